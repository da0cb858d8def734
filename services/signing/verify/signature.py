"""Validate one embedded signature (or document timestamp) and turn pyHanko's status into
findings: integrity, trust at signing time, timestamps, coverage and modification level.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from hoso.signing.verify.evidence import Evidence, cms_evidence, timestamp_time
from hoso.signing.verify.findings import Code, Finding
from hoso.signing.verify.model import CertificateInfo, SignatureResult, TimestampInfo
from hoso.signing.verify.profiles import ContextFactory
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    SignatureCoverageLevel,
)
from pyhanko_certvalidator import CertificateValidator, ValidationContext

__all__ = ["validate_embedded"]

_REVOKED = {AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE}
_UNTRUSTED = {
    AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND,
    AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE,
    AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
    AdESIndeterminate.NO_SIGNING_CERTIFICATE_FOUND,
}
_EXPIRED = {
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
    AdESIndeterminate.EXPIRED,
}


def _name_of(indication: object) -> str:
    """The name of an AdES sub-indication (an enum member, typed loosely by pyHanko)."""
    return str(getattr(indication, "name", indication))


def _trust_finding(indication: object) -> Finding:
    """Map an AdES sub-indication to our finding."""
    name = getattr(indication, "name", str(indication))
    if indication in _REVOKED or indication == AdESFailure.REVOKED:
        return Finding(Code.CERT_REVOKED, name)
    if indication in _UNTRUSTED:
        return Finding(Code.CHAIN_UNTRUSTED, name)
    if indication in _EXPIRED:
        return Finding(Code.CERT_EXPIRED, name)
    if indication in (AdESIndeterminate.NOT_YET_VALID, AdESFailure.NOT_YET_VALID):
        return Finding(Code.CERT_NOT_YET_VALID, name)
    if indication == AdESIndeterminate.TRY_LATER:
        return Finding(Code.REVOCATION_UNCHECKED, name)
    if indication in (
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    ):
        return Finding(Code.WEAK_ALGORITHM, name)
    if indication == AdESIndeterminate.SIG_CONSTRAINTS_FAILURE:
        return Finding(Code.KEY_USAGE_INVALID, name)
    return Finding(Code.CHAIN_INDETERMINATE, name)


def _integrity_findings(status: PdfSignatureStatus | DocumentTimestampStatus) -> list[Finding]:
    if not status.intact:
        return [Finding(Code.DIGEST_MISMATCH)]
    if not status.valid:
        return [Finding(Code.SIGNATURE_VALUE_INVALID)]
    return [Finding(Code.INTACT)]


def _modification_findings(
    status: PdfSignatureStatus | DocumentTimestampStatus, docmdp: MDPPerm | None
) -> list[Finding]:
    coverage = status.coverage
    if coverage is not None and coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return [Finding(Code.COVERAGE_INCOMPLETE, f"coverage {coverage.name}")]
    diff = status.diff_result
    if isinstance(diff, SuspiciousModification):
        return [Finding(Code.DISALLOWED_CHANGES, str(diff)[:300])]
    level = status.modification_level
    if level is None or level == ModificationLevel.NONE:
        return [Finding(Code.UNCHANGED)]
    if level == ModificationLevel.OTHER:
        return [Finding(Code.DISALLOWED_CHANGES, "pyHanko difference analysis: OTHER")]
    if docmdp is not None and level.value > docmdp.value:
        return [Finding(Code.DOCMDP_VIOLATION, f"{level.name} exceeds DocMDP {docmdp.name}")]
    if level == ModificationLevel.LTA_UPDATES:
        return [Finding(Code.LTA_UPDATES)]
    return []


async def validate_embedded(
    emb: EmbeddedPdfSignature,
    result: SignatureResult,
    *,
    reader: PdfFileReader,
    factory: ContextFactory,
    dss: Evidence,
    allow_fetching: bool,
    ts_context: ValidationContext | None = None,
) -> None:
    """Validate ``emb`` and record facts and findings on ``result`` (in place).

    ``ts_context`` validates timestamps "now"; one shared by all signatures of a document
    lets pyHanko validate the TSA's chain once instead of once per signature.
    """
    cms_data = cms_evidence(emb.signer_info, emb.signed_data)
    evidence = dss + cms_data
    result.signed_revision = emb.signed_revision
    result.byte_range = tuple(int(x) for x in emb.byte_range)
    result.digest_algorithm = emb.md_algorithm
    result.signature_algorithm = emb.signer_info["signature_algorithm"]["algorithm"].native
    result.signature_digest_hex = hashlib.sha256(emb.pkcs7_content).hexdigest()
    try:
        signer_cert = emb.signer_cert
        result.signer = CertificateInfo.from_asn1(signer_cert)
    except Exception:
        result.findings.append(Finding(Code.CMS_MALFORMED, "no signer certificate"))
        return

    ts_context = ts_context or factory.build(
        other_certs=evidence.certs,
        crls=evidence.crls,
        ocsps=evidence.ocsps,
        allow_fetching=allow_fetching,
    )
    if result.kind == "document_timestamp":
        ts_status = await async_validate_pdf_timestamp(emb, validation_context=ts_context)
        result.findings += _integrity_findings(ts_status)
        result.intact = ts_status.intact
        result.signature_value_ok = ts_status.valid
        result.timestamp = TimestampInfo(
            time=ts_status.timestamp,
            authority=result.signer.subject_cn,
            intact=ts_status.intact and ts_status.valid,
            trusted=ts_status.trusted,
        )
        _record_trust(result, ts_status, evidence, allow_fetching)
        result.findings += _modification_findings(ts_status, None)
        result.modification_level = getattr(ts_status.modification_level, "name", "")
        result.coverage = getattr(ts_status.coverage, "name", "")
        return

    signing_time = timestamp_time(emb.signer_info)
    signer_context = factory.build(
        other_certs=evidence.certs,
        crls=evidence.crls,
        ocsps=evidence.ocsps,
        moment=signing_time,
        allow_fetching=allow_fetching,
    )
    status = await async_validate_pdf_signature(
        emb, signer_validation_context=signer_context, ts_validation_context=ts_context
    )
    result.claimed_signing_time = status.signer_reported_dt
    result.validation_time = status.validation_time
    result.intact = status.intact
    result.signature_value_ok = status.valid
    result.findings += _integrity_findings(status)
    _record_trust(result, status, evidence, allow_fetching)
    if status.trust_problem_indic == AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE:
        await _tell_unchecked_from_untrusted(emb, result, factory, evidence, signing_time)

    tst = status.timestamp_validity
    if tst is None:
        result.findings.append(Finding(Code.NO_TIMESTAMP))
    else:
        authority = CertificateInfo.from_asn1(tst.signing_cert).subject_cn
        result.timestamp = TimestampInfo(
            time=tst.timestamp,
            authority=authority,
            intact=tst.intact and tst.valid,
            trusted=tst.trusted,
        )
        if not (tst.intact and tst.valid):
            result.findings.append(Finding(Code.TIMESTAMP_INVALID))
        elif not tst.trusted:
            result.findings.append(Finding(Code.TIMESTAMP_UNTRUSTED, authority))
        else:
            result.findings.append(Finding(Code.TIMESTAMP_VALID, authority))

    docmdp = emb.docmdp_level
    result.certification = emb.sig_object.get("/Reference") is not None and any(
        ref.get_object().get("/TransformMethod") == "/DocMDP"
        for ref in emb.sig_object.get("/Reference", [])
    )
    result.docmdp_permission = docmdp.value if docmdp is not None else None
    result.coverage = getattr(status.coverage, "name", "")
    result.modification_level = getattr(status.modification_level, "name", "")
    result.findings += _modification_findings(status, docmdp)
    if status.docmdp_ok is False and not any(
        f.code in (Code.DOCMDP_VIOLATION, Code.DISALLOWED_CHANGES, Code.COVERAGE_INCOMPLETE)
        for f in result.findings
    ):
        result.findings.append(Finding(Code.DOCMDP_VIOLATION))


async def _tell_unchecked_from_untrusted(
    emb: EmbeddedPdfSignature,
    result: SignatureResult,
    factory: ContextFactory,
    evidence: Evidence,
    moment: object,
) -> None:
    """A hard-fail chain failure may only mean "no revocation data": if the chain holds with
    revocation checking relaxed, the honest answer is INDETERMINATE, not untrusted."""
    relaxed = factory.build(
        other_certs=evidence.certs,
        crls=evidence.crls,
        ocsps=evidence.ocsps,
        moment=moment if isinstance(moment, dt.datetime) else None,
        revocation_mode="soft-fail",
    )
    validator = CertificateValidator(
        emb.signer_cert,
        intermediate_certs=list(emb.other_embedded_certs) + evidence.certs,
        validation_context=relaxed,
    )
    try:
        await validator.async_validate_usage(set())
    except Exception:
        return  # really untrusted
    result.findings = [
        Finding(Code.REVOCATION_UNCHECKED) if f.code == Code.CHAIN_UNTRUSTED else f
        for f in result.findings
    ]


def _record_trust(
    result: SignatureResult,
    status: PdfSignatureStatus | DocumentTimestampStatus,
    evidence: Evidence,
    allow_fetching: bool,
) -> None:
    path = status.validation_path
    if path is not None:
        # leaf first, anchor last: the order a reader follows
        certs = list(path.iter_certs(include_root=True))[::-1]
        result.chain = [CertificateInfo.from_asn1(c) for c in certs]
    result.revoked = bool(getattr(status, "revoked", False))
    if status.trusted:
        result.trusted = True
        result.findings.append(Finding(Code.TRUSTED))
        result.revocation_checked = True
        if evidence.has_revocation_data:
            result.revocation_source = "embedded"
        elif allow_fetching:
            result.revocation_source = "online"
        else:
            result.revocation_source = "not_required"
    elif status.trust_problem_indic is not None:
        result.sub_indication = _name_of(status.trust_problem_indic)
        result.findings.append(_trust_finding(status.trust_problem_indic))
    elif status.intact and status.valid:
        result.findings.append(Finding(Code.CHAIN_INDETERMINATE))
