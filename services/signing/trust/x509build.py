"""Pure certificate and CRL building, signed by a :class:`KeyHandle` (software key or HSM).

``cryptography``'s builders only sign with in-memory private keys, so a certificate or CRL is
first built and signed with a throwaway EC key, then its to-be-signed part is given the real
``signatureAlgorithm`` and re-signed through the key handle. The result is byte-for-byte what a
builder would have produced with the real key, and the CA key never has to be in memory.

Nothing here touches the database: these functions take every input explicitly, so they are
unit-testable and usable from the CLI and fixtures alike.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID
from hoso.common.errors import InvalidArgument
from hoso.signing.keystore.api import KeyHandle, PublicKey, algorithm_of_public_key
from hoso.signing.trust.profiles import PROFILES, Profile

__all__ = [
    "CertificateUrls",
    "RevokedEntry",
    "build_certificate",
    "build_crl",
    "load_csr",
    "random_serial",
]


@dataclass(frozen=True)
class CertificateUrls:
    """Where relying parties find revocation data and the issuer certificate."""

    crl: str
    """CRL distribution point of the issuing CA."""
    ocsp: str
    """OCSP responder (AIA id-ad-ocsp)."""
    ca_issuers: str
    """Where the issuer's certificate is served (AIA id-ad-caIssuers)."""


@dataclass(frozen=True)
class RevokedEntry:
    """One CRL entry."""

    serial: int
    revoked_at: dt.datetime
    reason: x509.ReasonFlags | None = None


@functools.cache
def _scratch_key() -> ec.EllipticCurvePrivateKey:
    # Signs only the throwaway first pass; its signature is discarded.
    return ec.generate_private_key(ec.SECP256R1())


def random_serial() -> int:
    """A positive random serial of up to 159 bits (RFC 5280: ≤ 20 octets, unpredictable)."""
    return x509.random_serial_number()


async def _resign_certificate(
    draft: x509.Certificate, signer: KeyHandle, digest_algorithm: str
) -> x509.Certificate:
    parsed = asn1_x509.Certificate.load(draft.public_bytes(serialization.Encoding.DER))
    algorithm = signer.signature_algorithm(digest_algorithm)
    tbs = parsed["tbs_certificate"]
    tbs["signature"] = algorithm
    tbs_der = tbs.dump()
    signature = await signer.sign(tbs_der, digest_algorithm=digest_algorithm)
    final = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return x509.load_der_x509_certificate(final.dump())


async def _resign_crl(
    draft: x509.CertificateRevocationList, signer: KeyHandle, digest_algorithm: str
) -> x509.CertificateRevocationList:
    parsed = asn1_crl.CertificateList.load(draft.public_bytes(serialization.Encoding.DER))
    algorithm = signer.signature_algorithm(digest_algorithm)
    tbs = parsed["tbs_cert_list"]
    tbs["signature"] = algorithm
    signature = await signer.sign(tbs.dump(), digest_algorithm=digest_algorithm)
    final = asn1_crl.CertificateList(
        {"tbs_cert_list": tbs, "signature_algorithm": algorithm, "signature": signature}
    )
    return x509.load_der_x509_crl(final.dump())


async def build_certificate(
    *,
    subject: x509.Name,
    public_key: PublicKey,
    profile: Profile,
    signer: KeyHandle,
    issuer: x509.Certificate | None,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    urls: CertificateUrls | None = None,
    email: str = "",
    digest_algorithm: str | None = None,
) -> x509.Certificate:
    """Build and sign a certificate of ``profile``.

    Args:
        subject: the subject name (already validated and NFC-normalised).
        public_key: the subject's public key (checked: RSA ≥ 2048 or EC P-256/P-384).
        profile: which profile's extensions to apply.
        signer: the issuer's key handle (the subject's own key for a self-signed root).
        issuer: the issuer certificate; ``None`` for a self-signed root.
        serial: the serial number.
        not_before: start of validity (UTC).
        not_after: end of validity (UTC); clipped to the issuer's ``not_after``.
        urls: CRL/OCSP/caIssuers URLs; ``None`` omits them (roots).
        email: also written as subjectAltName rfc822Name when set.
        digest_algorithm: hash of the certificate signature; ``None`` means the one the
            signer's key type calls for (SHA-384 for P-384, else SHA-256).

    Raises:
        InvalidArgument: the public key is too weak or of a refused type (field ``csr``).
    """
    try:
        algorithm_of_public_key(public_key)
    except ValueError as e:
        raise InvalidArgument(str(e), field="csr") from e
    spec = PROFILES[profile]
    is_ca = profile in (Profile.ROOT_CA, Profile.ISSUING_CA)
    issuer_name = issuer.subject if issuer is not None else subject
    if issuer is not None:
        not_after = min(not_after, issuer.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(
                ca=is_ca, path_length=0 if profile is Profile.ISSUING_CA else None
            ),
            critical=True,
        )
        .add_extension(spec.key_usage_extension(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    issuer_key = issuer.public_key() if issuer is not None else public_key
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key),  # type: ignore[arg-type]
        critical=False,
    )
    if spec.extended_key_usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(list(spec.extended_key_usage)), critical=spec.eku_critical
        )
    if spec.ocsp_no_check:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    if email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        )
    if urls is not None:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(urls.crl)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        access = [
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(urls.ca_issuers),
            )
        ]
        if not spec.ocsp_no_check and urls.ocsp:
            access.insert(
                0,
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)
                ),
            )
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    draft = builder.sign(_scratch_key(), hashes.SHA256())
    return await _resign_certificate(
        draft, signer, digest_algorithm or signer.algorithm.digest_algorithm
    )


async def build_crl(
    *,
    issuer: x509.Certificate,
    signer: KeyHandle,
    number: int,
    this_update: dt.datetime,
    next_update: dt.datetime,
    revoked: list[RevokedEntry],
    digest_algorithm: str | None = None,
) -> x509.CertificateRevocationList:
    """Build and sign a full CRL with a CRL number and AKI (RFC 5280 §5).

    ``digest_algorithm`` ``None`` means the one the signer's key type calls for.
    """
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    for entry in revoked:
        item = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason is not None and entry.reason is not x509.ReasonFlags.unspecified:
            item = item.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(item.build())
    draft = builder.sign(_scratch_key(), hashes.SHA256())
    return await _resign_crl(draft, signer, digest_algorithm or signer.algorithm.digest_algorithm)


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    """Parse a PEM or DER CSR and check its proof of possession and key.

    Raises:
        InvalidArgument: (field ``csr``) unparseable, bad signature, or a weak/refused key.
    """
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
    except ValueError as e:
        raise InvalidArgument(
            "csr is not a PKCS#10 certificate request in PEM or DER", field="csr"
        ) from e
    try:
        valid = csr.is_signature_valid
    except Exception as e:  # an unsupported signature algorithm surfaces here
        raise InvalidArgument(f"csr signature cannot be checked: {e}", field="csr") from e
    if not valid:
        raise InvalidArgument(
            "csr signature is invalid: it must be signed by the key it certifies", field="csr"
        )
    try:
        algorithm_of_public_key(csr.public_key())
    except ValueError as e:
        raise InvalidArgument(f"csr key refused: {e}", field="csr") from e
    return csr
