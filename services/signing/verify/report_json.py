"""A JSON export shaped after ETSI TS 119 102-2 (signature validation report).

Each signature becomes a ``SignatureValidationReport`` with ``SignatureIdentifier``,
``ValidationStatus`` (``MainIndication`` / ``SubIndication`` as ETSI URNs plus our reason
codes), ``SignerInformation``, ``SignatureQuality``, ``ValidationTimeInfo`` and
``SignatureAttributes``; the document verdict and findings sit beside them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hoso.signing.verify.findings import Finding, Lang, Verdict
from hoso.signing.verify.model import CertificateInfo, DocumentResult, SignatureResult

__all__ = ["main_indication", "to_etsi_dict"]

_URN = "urn:etsi:019102:mainindication:"
_SUB_URN = "urn:etsi:019102:subindication:"


def main_indication(verdict: Verdict) -> str:
    """ETSI main indication for our verdict (MODIFIED is a failed validation in ETSI terms)."""
    if verdict == Verdict.VALID:
        return _URN + "total-passed"
    if verdict == Verdict.INDETERMINATE:
        return _URN + "indeterminate"
    return _URN + "total-failed"


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _cert(info: CertificateInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "Subject": info.subject,
        "Issuer": info.issuer,
        "SerialNumber": info.serial_hex,
        "NotBefore": _iso(info.not_before),
        "NotAfter": _iso(info.not_after),
        "DigestSHA256": info.sha256_hex,
    }


def _findings(findings: list[Finding], lang: Lang) -> list[dict[str, Any]]:
    return [
        {
            "Code": f.code.value,
            "Implies": f.implies.value if f.implies else None,
            "Text": f.text(lang),
        }
        for f in findings
    ]


def _signature(sig: SignatureResult, index: int, lang: Lang) -> dict[str, Any]:
    sub = sig.sub_indication or next(
        (f.code.value for f in sig.findings if f.implies == sig.verdict), None
    )
    return {
        "SignatureIdentifier": {
            "id": f"sig-{index}",
            "FieldName": sig.field_name,
            "DigestAlgAndValue": {
                "DigestMethod": "sha256",
                "DigestValue": sig.signature_digest_hex,
            },
            "SignedRevision": sig.signed_revision,
            "ByteRange": list(sig.byte_range),
        },
        "ValidationStatus": {
            "MainIndication": main_indication(sig.verdict),
            "SubIndication": [_SUB_URN + sub] if sub and sig.verdict != Verdict.VALID else [],
            "Verdict": sig.verdict.value,
            "Reasons": _findings(sig.findings, lang),
        },
        "SignerInformation": {
            "SignerCertificate": _cert(sig.signer),
            "Signer": sig.signer.subject_cn if sig.signer else None,
            "CertificateChain": [_cert(c) for c in sig.chain],
        },
        "SignatureQuality": {"SignatureQualityInformation": sig.pades_level},
        "ValidationTimeInfo": {
            "ValidationTime": _iso(sig.validation_time),
            "BestSignatureTime": {
                "POETime": _iso(sig.best_signing_time),
                "TypeOfProof": "validation" if sig.timestamp else "claimed",
            },
        },
        "SignatureAttributes": {
            "SigningTime": _iso(sig.claimed_signing_time),
            "SignatureTimeStamp": None
            if sig.timestamp is None
            else {
                "Time": _iso(sig.timestamp.time),
                "Authority": sig.timestamp.authority,
                "Intact": sig.timestamp.intact,
                "Trusted": sig.timestamp.trusted,
            },
            "SubFilter": sig.subfilter,
            "DigestAlgorithm": sig.digest_algorithm,
            "SignatureAlgorithm": sig.signature_algorithm,
            "Coverage": sig.coverage,
            "ModificationLevel": sig.modification_level,
            "DocMDP": sig.docmdp_permission,
            "Certification": sig.certification,
            "RevocationChecked": sig.revocation_checked,
            "RevocationSource": sig.revocation_source,
            "Kind": sig.kind,
        },
        "ChangesAfterSigning": [
            {"Revision": c.revision, "ObjectsChanged": c.objects_changed, "Kinds": list(c.kinds)}
            for c in sig.changes
        ],
    }


def to_etsi_dict(result: DocumentResult, lang: Lang = "en") -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    return {
        "ValidationReport": {
            "DocumentVerdict": result.verdict.value,
            "MainIndication": main_indication(result.verdict)
            if result.verdict != Verdict.UNSIGNED
            else None,
            "Document": {
                "FileName": result.file_name,
                "DigestSHA256": result.document_sha256,
                "Size": result.document_size,
                "Revisions": result.revisions,
            },
            "TrustProfile": result.trust_profile,
            "ValidationTime": _iso(result.validated_at),
            "Findings": _findings(result.findings, lang),
            "SignatureValidationReport": [
                _signature(sig, i, lang) for i, sig in enumerate(result.signatures, 1)
            ],
        }
    }
