"""Results of verification: per signature, per document, and the facts that support them."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from asn1crypto import x509 as asn1_x509
from hoso.signing.verify.findings import Finding, Verdict

__all__ = [
    "CertificateInfo",
    "DocumentResult",
    "RevisionChange",
    "SignatureKind",
    "SignatureResult",
    "TimestampInfo",
]

SignatureKind = Literal["signature", "document_timestamp", "detached"]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class CertificateInfo:
    """What a person needs to know about a certificate."""

    subject: str
    issuer: str
    serial_hex: str
    not_before: dt.datetime
    not_after: dt.datetime
    sha256_hex: str
    subject_cn: str = ""
    issuer_cn: str = ""

    @classmethod
    def from_asn1(cls, cert: asn1_x509.Certificate) -> CertificateInfo:
        """Summarise an asn1crypto certificate."""
        subject = cert.subject.native
        issuer = cert.issuer.native
        return cls(
            subject=_nfc(cert.subject.human_friendly),
            issuer=_nfc(cert.issuer.human_friendly),
            serial_hex=format(cert.serial_number, "x"),
            not_before=cert.not_valid_before,
            not_after=cert.not_valid_after,
            sha256_hex=hashlib.sha256(cert.dump()).hexdigest(),
            subject_cn=_nfc(str(subject.get("common_name", ""))),
            issuer_cn=_nfc(str(issuer.get("common_name", ""))),
        )


@dataclass(frozen=True)
class TimestampInfo:
    """A signature timestamp or a document timestamp."""

    time: dt.datetime
    authority: str
    intact: bool
    trusted: bool


@dataclass(frozen=True)
class RevisionChange:
    """What one revision after a signature changed, summarised by kind of object."""

    revision: int
    objects_changed: int
    kinds: tuple[str, ...]


@dataclass
class SignatureResult:
    """Everything established about one signature (or document timestamp)."""

    field_name: str
    kind: SignatureKind = "signature"
    verdict: Verdict = Verdict.INVALID
    findings: list[Finding] = field(default_factory=list)
    signed_revision: int | None = None
    signer: CertificateInfo | None = None
    chain: list[CertificateInfo] = field(default_factory=list)
    claimed_signing_time: dt.datetime | None = None
    timestamp: TimestampInfo | None = None
    validation_time: dt.datetime | None = None
    pades_level: str | None = None
    subfilter: str = ""
    digest_algorithm: str = ""
    signature_algorithm: str = ""
    byte_range: tuple[int, ...] = ()
    coverage: str = ""
    modification_level: str = ""
    docmdp_permission: int | None = None
    certification: bool = False
    revocation_checked: bool = False
    revocation_source: str = ""
    revoked: bool = False
    intact: bool = False
    signature_value_ok: bool = False
    trusted: bool = False
    sub_indication: str = ""
    changes: list[RevisionChange] = field(default_factory=list)
    signature_digest_hex: str = ""

    @property
    def best_signing_time(self) -> dt.datetime | None:
        """The trusted timestamp when there is one, else the time the signer claims."""
        if self.timestamp is not None and self.timestamp.intact and self.timestamp.trusted:
            return self.timestamp.time
        return self.claimed_signing_time


@dataclass
class DocumentResult:
    """The verdict on a whole document and on each of its signatures."""

    verdict: Verdict
    signatures: list[SignatureResult]
    findings: list[Finding]
    document_sha256: str
    document_size: int
    revisions: int
    validated_at: dt.datetime
    trust_profile: str
    file_name: str = ""

    @property
    def reasons(self) -> list[Finding]:
        """The findings that pulled the verdict below VALID, document first."""
        out = [f for f in self.findings if f.implies not in (None, Verdict.VALID)]
        for sig in self.signatures:
            out += [f for f in sig.findings if f.implies not in (None, Verdict.VALID)]
        return out
