"""Trust profiles: named sets of trust anchors chosen per verification request.

The standard slots are our own root (``hoso-root``), the Vietnam National Root CA
(``vn-national-root``; its certificate cannot be downloaded here, operators import the DER),
a government-specialised root (``vn-gov-root``), and any number of custom profiles. A profile's
anchors are parsed once into a pyHanko trust manager; each verification then only builds a
cheap :class:`ValidationContext` around it with the document's own revocation data.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from hoso.signing.verify.findings import Code, Finding
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleTrustManager, TrustManager

__all__ = [
    "ContextFactory",
    "ProfileKind",
    "TrustProfile",
    "context_factory",
    "parse_anchor",
    "relax_revocation",
]


class ProfileKind(enum.StrEnum):
    """Which slot a profile fills."""

    OWN_ROOT = "own_root"
    NATIONAL_ROOT = "national_root"
    GOVERNMENT_ROOT = "government_root"
    CUSTOM = "custom"


STANDARD_PROFILES: dict[str, ProfileKind] = {
    "hoso-root": ProfileKind.OWN_ROOT,
    "vn-national-root": ProfileKind.NATIONAL_ROOT,
    "vn-gov-root": ProfileKind.GOVERNMENT_ROOT,
}


def parse_anchor(data: bytes) -> asn1_x509.Certificate:
    """Parse a DER or PEM certificate to be used as a trust anchor.

    Raises:
        ValueError: the bytes are not one X.509 certificate.
    """
    if data.lstrip().startswith(b"-----BEGIN"):
        from asn1crypto import pem

        _, _, data = pem.unarmor(data)
    try:
        cert = asn1_x509.Certificate.load(data)
        cert.native  # noqa: B018 -- forces a full parse so garbage fails here, not later
    except (ValueError, TypeError) as e:
        raise ValueError("not a DER or PEM X.509 certificate") from e
    return cert


@dataclass(frozen=True)
class TrustProfile:
    """A named set of trust anchors (DER certificates)."""

    name: str
    anchors: tuple[bytes, ...]
    kind: ProfileKind = ProfileKind.CUSTOM
    description: str = ""
    updated_at: dt.datetime | None = field(default=None, compare=False)
    require_revocation_check: bool = True
    """Missing revocation evidence makes a signature INDETERMINATE (else only a warning)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", unicodedata.normalize("NFC", self.name))
        object.__setattr__(self, "description", unicodedata.normalize("NFC", self.description))

    @property
    def digest(self) -> str:
        """Identity of the anchor set (the cache key of its trust manager)."""
        hasher = hashlib.sha256()
        for der in sorted(self.anchors):
            hasher.update(hashlib.sha256(der).digest())
        return hasher.hexdigest()

    def anchor_certificates(self) -> list[asn1_x509.Certificate]:
        """The anchors as asn1crypto certificates."""
        return [asn1_x509.Certificate.load(der) for der in self.anchors]


def relax_revocation(profile: TrustProfile, findings: list[Finding]) -> list[Finding]:
    """``findings`` with "revocation unchecked" downgraded to a warning when ``profile`` does
    not require revocation checking (the verdict then rests on the other findings)."""
    if profile.require_revocation_check:
        return findings
    return [
        Finding(Code.REVOCATION_UNCHECKED_WARNING, f.detail, f.revision, f.extra)
        if f.code == Code.REVOCATION_UNCHECKED
        else f
        for f in findings
    ]


class ContextFactory:
    """Builds per-request validation contexts around one profile's prebuilt trust manager."""

    def __init__(self, profile: TrustProfile) -> None:
        self.profile = profile
        anchors = profile.anchor_certificates()
        # an empty SimpleTrustManager trusts nothing; build() with no roots would fall back to
        # the operating system's TLS list, which has no place in document verification
        self._trust: TrustManager = (
            SimpleTrustManager.build(trust_roots=anchors) if anchors else SimpleTrustManager()
        )

    def build(
        self,
        *,
        other_certs: Iterable[asn1_x509.Certificate] = (),
        crls: Iterable[asn1_crl.CertificateList] = (),
        ocsps: Iterable[asn1_ocsp.OCSPResponse] = (),
        moment: dt.datetime | None = None,
        allow_fetching: bool = False,
        revocation_mode: str = "hard-fail",
    ) -> ValidationContext:
        """A context that requires revocation data for every certificate that has a source.

        Args:
            other_certs: intermediates found in the document.
            crls: CRLs found in the document (DSS or CMS).
            ocsps: OCSP responses found in the document.
            moment: the time to validate at (the trusted signing time); ``None`` means now.
                Ignored when fetching, which pyHanko only supports for the present.
            allow_fetching: fetch missing revocation data online.
            revocation_mode: ``hard-fail`` (the verdict); ``soft-fail`` only to tell
                "unchecked" apart from "untrusted" after a failure.
        """
        return ValidationContext(
            trust_manager=self._trust,
            other_certs=list(other_certs),
            crls=list(crls),
            ocsps=list(ocsps),
            moment=None if allow_fetching else moment,
            allow_fetching=allow_fetching,
            revocation_mode=revocation_mode,
            # revocation data gathered after signing (a later DSS update) still speaks for the
            # signing time: a certificate revoked after that time was good when it signed
            retroactive_revinfo=True,
        )


_FACTORIES: dict[str, ContextFactory] = {}
_FACTORIES_LOCK = threading.Lock()


def context_factory(profile: TrustProfile) -> ContextFactory:
    """The cached factory for ``profile`` (one per anchor set per process)."""
    key = profile.digest
    with _FACTORIES_LOCK:
        factory = _FACTORIES.get(key)
        if factory is None:
            factory = _FACTORIES[key] = ContextFactory(profile)
        return factory
