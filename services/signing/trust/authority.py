"""The authority's own material: root, issuing CA, TSA and OCSP responder certificates + keys.

:func:`create_authority` makes a fresh hierarchy (first start of the embedded default);
:func:`load_authority` rebuilds :class:`Authority` from catalog rows and the key store. Both
are pure with respect to the database: the caller persists or reads the rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hoso.signing.keystore.api import KeyAlgorithm, KeyHandle, KeyStore
from hoso.signing.trust.names import SubjectName
from hoso.signing.trust.profiles import Profile
from hoso.signing.trust.x509build import CertificateUrls, build_certificate, random_serial

__all__ = ["BACKDATE", "Authority", "IssuedMaterial", "create_authority", "to_asn1"]

#: Certificates start a little in the past so that relying parties with slow clocks accept them.
BACKDATE = dt.timedelta(minutes=5)


def to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """The asn1crypto view of a ``cryptography`` certificate (what pyHanko uses)."""
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class IssuedMaterial:
    """A certificate with the handle of its key."""

    profile: Profile
    certificate: x509.Certificate
    key: KeyHandle


@dataclass(frozen=True)
class Authority:
    """Everything needed to sign certificates, CRLs, OCSP responses and timestamps."""

    root: IssuedMaterial
    issuing: IssuedMaterial
    tsa: IssuedMaterial
    ocsp: IssuedMaterial
    urls: CertificateUrls

    def chain_pem(self) -> str:
        """Issuing then root certificate, PEM (for trust stores and ``openssl verify``)."""
        return "".join(
            m.certificate.public_bytes(serialization.Encoding.PEM).decode()
            for m in (self.issuing, self.root)
        )


async def _issue_service_certificate(
    keystore: KeyStore,
    *,
    profile: Profile,
    common_name: str,
    algorithm: KeyAlgorithm,
    issuing: IssuedMaterial,
    organization: str,
    country: str,
    urls: CertificateUrls,
    now: dt.datetime,
    days: int,
) -> IssuedMaterial:
    key = await keystore.generate(algorithm, common_name)
    subject = SubjectName.create(
        common_name=common_name, organization=organization, country=country
    )
    certificate = await build_certificate(
        subject=subject.to_x509(),
        public_key=key.public_key,
        profile=profile,
        signer=issuing.key,
        issuer=issuing.certificate,
        serial=random_serial(),
        not_before=now - BACKDATE,
        not_after=now + dt.timedelta(days=days),
        urls=urls,
    )
    return IssuedMaterial(profile, certificate, key)


async def create_authority(
    keystore: KeyStore,
    *,
    urls: CertificateUrls,
    root_urls: CertificateUrls,
    ca_algorithm: KeyAlgorithm = KeyAlgorithm.EC_P384,
    service_algorithm: KeyAlgorithm = KeyAlgorithm.EC_P256,
    organization: str = "Hoso Trust Services",
    country: str = "VN",
    root_days: int = 7300,
    issuing_days: int = 3650,
    service_days: int = 1825,
    now: dt.datetime | None = None,
    issuing: IssuedMaterial | None = None,
    root: IssuedMaterial | None = None,
) -> Authority:
    """Create a root CA, an issuing CA, a TSA and a delegated OCSP responder.

    ``urls`` go into certificates of the issuing CA; ``root_urls`` (root CRL and root
    certificate; no OCSP) into the issuing CA's certificate.

    When ``root`` and ``issuing`` are given (an imported CA), only the TSA and OCSP responder
    certificates are created, under the imported issuing CA.
    """
    now = now or dt.datetime.now(dt.UTC)
    if root is None or issuing is None:
        root_key = await keystore.generate(ca_algorithm, "root-ca")
        root_subject = SubjectName.create(
            common_name=f"{organization} Root CA", organization=organization, country=country
        ).to_x509()
        root_cert = await build_certificate(
            subject=root_subject,
            public_key=root_key.public_key,
            profile=Profile.ROOT_CA,
            signer=root_key,
            issuer=None,
            serial=random_serial(),
            not_before=now - BACKDATE,
            not_after=now + dt.timedelta(days=root_days),
        )
        root = IssuedMaterial(Profile.ROOT_CA, root_cert, root_key)
        issuing_key = await keystore.generate(ca_algorithm, "issuing-ca")
        issuing_subject = SubjectName.create(
            common_name=f"{organization} Issuing CA", organization=organization, country=country
        ).to_x509()
        issuing_cert = await build_certificate(
            subject=issuing_subject,
            public_key=issuing_key.public_key,
            profile=Profile.ISSUING_CA,
            signer=root_key,
            issuer=root_cert,
            serial=random_serial(),
            not_before=now - BACKDATE,
            not_after=now + dt.timedelta(days=issuing_days),
            urls=root_urls,
        )
        issuing = IssuedMaterial(Profile.ISSUING_CA, issuing_cert, issuing_key)
    common = {
        "algorithm": service_algorithm,
        "issuing": issuing,
        "organization": organization,
        "country": country,
        "urls": urls,
        "now": now,
        "days": service_days,
    }
    tsa = await _issue_service_certificate(
        keystore,
        profile=Profile.TSA,
        common_name=f"{organization} TSA",
        **common,  # type: ignore[arg-type]
    )
    ocsp = await _issue_service_certificate(
        keystore,
        profile=Profile.OCSP_RESPONDER,
        common_name=f"{organization} OCSP Responder",
        **common,  # type: ignore[arg-type]
    )
    return Authority(root=root, issuing=issuing, tsa=tsa, ocsp=ocsp, urls=urls)
