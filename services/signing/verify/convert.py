"""The core's results as ``hoso.signing.v1`` report messages.

Finding codes go out dotted and lower case by area (``integrity.digest_mismatch``,
``trust.revocation_unchecked``, ``modification.overlay_on_signed_content``), each with both
wordings; a finding that changes the verdict is an ERROR, a caveat a WARNING, the rest INFO.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping

from hoso.common.protoconv import to_timestamp
from hoso.signing.v1 import signing_pb2 as _signing_pb
from hoso.signing.v1 import verification_pb2 as _pb
from hoso.signing.verify.findings import Code, Finding, Lang, Verdict
from hoso.signing.verify.model import CertificateInfo, DocumentResult, SignatureResult
from hoso.signing.verify.model import TimestampInfo as CoreTimestamp

__all__ = ["finding_code", "report_message"]

_VERDICTS = {
    Verdict.VALID: _pb.VERDICT_VALID,
    Verdict.MODIFIED: _pb.VERDICT_MODIFIED,
    Verdict.INVALID: _pb.VERDICT_INVALID,
    Verdict.INDETERMINATE: _pb.VERDICT_INDETERMINATE,
    Verdict.UNSIGNED: _pb.VERDICT_UNSIGNED,
}
_AREAS: dict[str, tuple[Code, ...]] = {
    "integrity": (
        Code.INTACT,
        Code.DIGEST_MISMATCH,
        Code.SIGNATURE_VALUE_INVALID,
        Code.CMS_MALFORMED,
        Code.CONTENTS_MISSING,
        Code.BYTERANGE_MISSING,
        Code.BYTERANGE_INVALID,
        Code.UNSUPPORTED_SUBFILTER,
    ),
    "coverage": (Code.COVERAGE_INCOMPLETE,),
    "document": (Code.MALFORMED_PDF, Code.UNSIGNED, Code.TRAILING_DATA),
    "timestamp": (
        Code.TIMESTAMP_VALID,
        Code.TIMESTAMP_INVALID,
        Code.TIMESTAMP_UNTRUSTED,
        Code.NO_TIMESTAMP,
    ),
    "modification": (
        Code.UNCHANGED,
        Code.LTA_UPDATES,
        Code.LATER_SIGNATURE,
        Code.EMPTY_FIELD_FILLED,
        Code.DISALLOWED_CHANGES,
        Code.DOCMDP_VIOLATION,
        Code.PREFILLED_FIELD_CHANGED,
        Code.OVERLAY_ON_SIGNED_CONTENT,
        Code.SIGNATURE_OVER_SIGNATURE,
        Code.VISUAL_CHANGE,
    ),
}
_AREA_OF = {code: area for area, codes in _AREAS.items() for code in codes}
_WARNINGS = {Code.NO_TIMESTAMP, Code.REVOCATION_UNCHECKED_WARNING, Code.SIGNATURE_OVER_SIGNATURE}
_LEVELS = {
    "B-B": _signing_pb.PADES_LEVEL_B_B,
    "B-T": _signing_pb.PADES_LEVEL_B_T,
    "B-LT": _signing_pb.PADES_LEVEL_B_LT,
    "B-LTA": _signing_pb.PADES_LEVEL_B_LTA,
}
_DOCMDP = {
    1: _signing_pb.DOC_MDP_PERMISSION_NO_CHANGES,
    2: _signing_pb.DOC_MDP_PERMISSION_FORM_FILLING,
    3: _signing_pb.DOC_MDP_PERMISSION_ANNOTATIONS,
}
_COVERAGE = {
    "ENTIRE_FILE": _pb.SIGNATURE_COVERAGE_ENTIRE_FILE,
    "ENTIRE_REVISION": _pb.SIGNATURE_COVERAGE_ENTIRE_REVISION,
}
_MODIFICATION = {
    "NONE": _pb.MODIFICATION_LEVEL_NONE,
    "LTA_UPDATES": _pb.MODIFICATION_LEVEL_LTA_UPDATES,
    "FORM_FILLING": _pb.MODIFICATION_LEVEL_FORM_FILLING,
    "ANNOTATIONS": _pb.MODIFICATION_LEVEL_ANNOTATIONS,
    "OTHER": _pb.MODIFICATION_LEVEL_OTHER,
}
_HARMFUL_CHANGES = {
    Code.DISALLOWED_CHANGES,
    Code.DOCMDP_VIOLATION,
    Code.PREFILLED_FIELD_CHANGED,
    Code.OVERLAY_ON_SIGNED_CONTENT,
    Code.VISUAL_CHANGE,
    Code.TRAILING_DATA,
}
_VISIBLE_KINDS = {"page", "xobject", "font", "annotation", "form_field", "acroform"}
_REVISION_WORDS = {"vi": "đối tượng thay đổi", "en": "objects changed"}


def finding_code(code: Code) -> str:
    """The stable API code of ``code``, e.g. ``integrity.digest_mismatch``."""
    return f"{_AREA_OF.get(code, 'trust')}.{code.value.lower()}"


def _finding(finding: Finding) -> _pb.Finding:
    implied = finding.implies
    if finding.code in _WARNINGS:
        severity = _pb.FINDING_SEVERITY_WARNING
    elif implied is not None and implied not in (Verdict.VALID, Verdict.UNSIGNED):
        severity = _pb.FINDING_SEVERITY_ERROR
    else:
        severity = _pb.FINDING_SEVERITY_INFO
    return _pb.Finding(
        code=finding_code(finding.code),
        severity=severity,
        message_vi=unicodedata.normalize("NFC", finding.text("vi")),
        message_en=finding.text("en"),
    )


def _ordered(findings: list[Finding]) -> list[_pb.Finding]:
    """Errors first, then warnings, then information (stable within each)."""
    messages = [_finding(f) for f in findings]
    return sorted(messages, key=lambda m: -int(m.severity))


def _certificate(info: CertificateInfo) -> _pb.CertificateSummary:
    return _pb.CertificateSummary(
        subject=info.subject,
        issuer=info.issuer,
        serial_hex=info.serial_hex,
        not_before=to_timestamp(info.not_before),
        not_after=to_timestamp(info.not_after),
        sha256_fingerprint=info.sha256_hex,
    )


def _timestamp(stamp: CoreTimestamp, findings: list[Finding] = ()) -> _pb.TimestampInfo:  # type: ignore[assignment]
    return _pb.TimestampInfo(
        time=to_timestamp(stamp.time),
        tsa=_pb.CertificateSummary(subject=stamp.authority),
        valid=stamp.intact and stamp.trusted,
        findings=_ordered(list(findings)),
    )


def _revocation(sig: SignatureResult, codes: set[Code]) -> tuple[int, int]:
    if sig.revoked or Code.CERT_REVOKED in codes:
        status = _pb.REVOCATION_STATUS_REVOKED
    elif sig.revocation_checked and sig.revocation_source in ("embedded", "online"):
        status = _pb.REVOCATION_STATUS_GOOD
    elif codes & {Code.REVOCATION_UNCHECKED, Code.REVOCATION_UNCHECKED_WARNING}:
        status = _pb.REVOCATION_STATUS_UNKNOWN
    else:
        status = _pb.REVOCATION_STATUS_NOT_CHECKED
    source = {
        "embedded": _pb.REVOCATION_SOURCE_EMBEDDED,
        "online": _pb.REVOCATION_SOURCE_ONLINE,
    }.get(sig.revocation_source, _pb.REVOCATION_SOURCE_UNSPECIFIED)
    return status, source


def _valid_at_signing(sig: SignatureResult, codes: set[Code]) -> bool:
    moment = sig.best_signing_time
    if sig.signer is None or moment is None:
        return False
    if codes & {Code.CERT_EXPIRED, Code.CERT_NOT_YET_VALID, Code.CERT_REVOKED}:
        return False
    return sig.signer.not_before <= moment <= sig.signer.not_after


def _modification(sig: SignatureResult, codes: set[Code]) -> int:
    if codes & _HARMFUL_CHANGES:
        return _pb.MODIFICATION_LEVEL_OTHER
    level = _MODIFICATION.get(sig.modification_level, _pb.MODIFICATION_LEVEL_UNSPECIFIED)
    if level == _pb.MODIFICATION_LEVEL_UNSPECIFIED and sig.intact:
        return _pb.MODIFICATION_LEVEL_NONE if not sig.changes else _pb.MODIFICATION_LEVEL_OTHER
    return level


def _change_kind(kinds: tuple[str, ...]) -> int:
    """A hint of what one later revision did, from the kinds of objects it wrote (the verdict
    itself rests on the findings)."""
    present = set(kinds)
    if not present & _VISIBLE_KINDS:
        return _pb.MODIFICATION_LEVEL_LTA_UPDATES
    if "annotation" in present:
        return _pb.MODIFICATION_LEVEL_ANNOTATIONS
    if present & {"form_field", "acroform"}:
        return _pb.MODIFICATION_LEVEL_FORM_FILLING
    return _pb.MODIFICATION_LEVEL_OTHER


def _signature(
    sig: SignatureResult, lang: Lang, anchor_labels: Mapping[str, str]
) -> _pb.SignatureResult:
    codes = {f.code for f in sig.findings}
    status, source = _revocation(sig, codes)
    coverage = _COVERAGE.get(sig.coverage, _pb.SIGNATURE_COVERAGE_UNSPECIFIED)
    if codes & {Code.COVERAGE_INCOMPLETE, Code.BYTERANGE_INVALID}:
        coverage = _pb.SIGNATURE_COVERAGE_PARTIAL
    message = _pb.SignatureResult(
        field_name=sig.field_name,
        verdict=_VERDICTS[sig.verdict],
        findings=_ordered(sig.findings),
        integrity_ok=sig.intact and sig.signature_value_ok,
        chain=[_certificate(c) for c in sig.chain],
        certificate_valid_at_signing_time=_valid_at_signing(sig, codes),
        revocation_status=status,
        revocation_source=source,
        level=_LEVELS.get(sig.pades_level or "", _signing_pb.PADES_LEVEL_UNSPECIFIED),
        coverage=coverage,
        doc_mdp_permission=_DOCMDP.get(sig.docmdp_permission or 0, 0),
        modification_level=_modification(sig, codes),
        changes=[
            _pb.RevisionChange(
                revision=change.revision + 1,
                description=f"{change.objects_changed} {_REVISION_WORDS[lang]}: "
                + ", ".join(change.kinds),
                kind=_change_kind(change.kinds),
            )
            for change in sig.changes
        ],
        certification=sig.certification,
        revision=(sig.signed_revision + 1) if sig.signed_revision is not None else 0,
        signature_algorithm=sig.signature_algorithm,
        digest_algorithm=sig.digest_algorithm,
    )
    if sig.signer is not None:
        message.signer.CopyFrom(_certificate(sig.signer))
    if sig.trusted and sig.chain:
        anchor = sig.chain[-1]
        message.trusted_anchor = anchor_labels.get(anchor.sha256_hex) or anchor.subject_cn
    if sig.claimed_signing_time is not None:
        message.claimed_signing_time.CopyFrom(to_timestamp(sig.claimed_signing_time))
    if sig.timestamp is not None:
        message.signature_timestamp.CopyFrom(_timestamp(sig.timestamp))
    return message


def report_message(
    result: DocumentResult,
    *,
    lang: Lang,
    profile_name: str,
    json_report: str,
    human_report: str,
    anchor_labels: Mapping[str, str] | None = None,
) -> _pb.VerificationReport:
    """The ``VerificationReport`` of ``result`` (document timestamps listed apart)."""
    labels = anchor_labels or {}
    signatures = [s for s in result.signatures if s.kind != "document_timestamp"]
    doc_timestamps = [s for s in result.signatures if s.kind == "document_timestamp"]
    report = _pb.VerificationReport(
        verdict=_VERDICTS[result.verdict],
        findings=_ordered(result.findings),
        document_sha256=result.document_sha256,
        signatures=[_signature(s, lang, labels) for s in signatures],
        trust_profile=profile_name,
        validation_time=to_timestamp(result.validated_at or dt.datetime.now(dt.UTC)),
        revision_count=result.revisions,
        json_report=json_report,
        human_report=human_report,
        language=_pb.REPORT_LANGUAGE_EN if lang == "en" else _pb.REPORT_LANGUAGE_VI,
    )
    for stamp in doc_timestamps:
        if stamp.timestamp is not None:
            report.document_timestamps.append(_timestamp(stamp.timestamp, stamp.findings))
        else:
            # a document timestamp too broken to read still explains the verdict
            report.findings.extend(_ordered(stamp.findings))
    return report
