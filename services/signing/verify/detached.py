"""Verify a CAdES detached signature (``.p7s``) against the file it signs."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

from asn1crypto import cms, pem
from asn1crypto import crl as asn1_crl
from hoso.signing.verify.errors import MalformedSignature
from hoso.signing.verify.evidence import Evidence, cms_evidence, timestamp_time
from hoso.signing.verify.findings import Code, Finding, verdict_of
from hoso.signing.verify.model import (
    CertificateInfo,
    DocumentResult,
    SignatureResult,
    TimestampInfo,
)
from hoso.signing.verify.profiles import TrustProfile, context_factory, relax_revocation
from hoso.signing.verify.signature import _name_of, _trust_finding
from pyhanko.sign.validation import async_validate_detached_cms

__all__ = ["parse_detached_cms", "verify_detached"]


def _load(signature: bytes) -> cms.SignedData:
    if signature.lstrip().startswith(b"-----BEGIN"):
        _, _, signature = pem.unarmor(signature)
    info = cms.ContentInfo.load(signature)
    if info["content_type"].native != "signed_data":
        raise ValueError("not CMS SignedData")
    signed_data = info["content"]
    signed_data.native  # noqa: B018 -- full parse now, so garbage is caught here
    return signed_data


def parse_detached_cms(signature: bytes) -> cms.SignedData:
    """Parse a detached CMS SignedData (DER or PEM) strictly, for callers that must refuse
    a bad signature file rather than report on it (the gRPC API).

    Raises:
        MalformedSignature: empty, not CMS SignedData, no signer, or not detached.
    """
    if not signature:
        raise MalformedSignature("header.cms is empty: send the detached CMS (.p7s), DER or PEM")
    try:
        signed_data = _load(signature)
        signed_data["signer_infos"][0]
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise MalformedSignature(
            f"header.cms is not a CMS SignedData with a signer ({type(e).__name__}: {e})"[:300]
        ) from e
    if signed_data["encap_content_info"]["content"].native is not None:
        raise MalformedSignature(
            "header.cms encapsulates its content; send a detached signature (no eContent)"
        )
    return signed_data


def verify_detached(
    content: bytes,
    signature: bytes,
    profile: TrustProfile,
    *,
    allow_fetching: bool = False,
    crls: tuple[bytes, ...] = (),
    file_name: str = "",
) -> DocumentResult:
    """Verify ``signature`` (DER or PEM CMS) over ``content``.

    A malformed CMS is an INVALID verdict with ``CMS_MALFORMED``, not an error.

    Args:
        content: the signed file.
        signature: the detached CMS.
        profile: trust anchors.
        allow_fetching: fetch revocation data online.
        crls: DER CRLs the caller holds for the chain (a bare .p7s carries none).
        file_name: for the report.

    Raises:
        MalformedSignature: the signature is empty.
    """
    if not signature:
        raise MalformedSignature("the detached signature is empty")
    result = SignatureResult(field_name=file_name or "detached", kind="detached")
    try:
        signed_data = _load(signature)
        signer_info = signed_data["signer_infos"][0]
    except (ValueError, TypeError, KeyError, IndexError) as e:
        result.findings.append(Finding(Code.CMS_MALFORMED, f"{type(e).__name__}: {e}"[:300]))
    else:
        extra = Evidence(crls=[asn1_crl.CertificateList.load(c) for c in crls])
        asyncio.run(
            _validate(content, signed_data, signer_info, result, profile, allow_fetching, extra)
        )
    result.findings = relax_revocation(profile, result.findings)
    result.verdict = verdict_of(result.findings)
    return DocumentResult(
        verdict=result.verdict,
        signatures=[result],
        findings=[],
        document_sha256=hashlib.sha256(content).hexdigest(),
        document_size=len(content),
        revisions=0,
        validated_at=dt.datetime.now(dt.UTC),
        trust_profile=profile.name,
        file_name=file_name,
    )


async def _validate(
    content: bytes,
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    result: SignatureResult,
    profile: TrustProfile,
    allow_fetching: bool,
    extra: Evidence,
) -> None:
    factory = context_factory(profile)
    evidence = cms_evidence(signer_info, signed_data) + extra
    kwargs = {
        "other_certs": evidence.certs,
        "crls": evidence.crls,
        "ocsps": evidence.ocsps,
        "allow_fetching": allow_fetching,
    }
    try:
        status = await async_validate_detached_cms(
            content,
            signed_data,
            signer_validation_context=factory.build(moment=timestamp_time(signer_info), **kwargs),
            ts_validation_context=factory.build(**kwargs),
        )
    except (ValueError, TypeError, KeyError) as e:
        result.findings.append(Finding(Code.CMS_MALFORMED, f"{type(e).__name__}: {e}"[:300]))
        return
    result.signer = CertificateInfo.from_asn1(status.signing_cert)
    result.intact, result.signature_value_ok = status.intact, status.valid
    result.claimed_signing_time = status.signer_reported_dt
    result.digest_algorithm = status.md_algorithm
    if not status.intact:
        result.findings.append(Finding(Code.DIGEST_MISMATCH))
    elif not status.valid:
        result.findings.append(Finding(Code.SIGNATURE_VALUE_INVALID))
    else:
        result.findings.append(Finding(Code.INTACT))
    if status.trusted:
        result.trusted = True
        result.findings.append(Finding(Code.TRUSTED))
    elif status.trust_problem_indic is not None:
        result.sub_indication = _name_of(status.trust_problem_indic)
        finding = _trust_finding(status.trust_problem_indic)
        if (
            finding.code == Code.CHAIN_UNTRUSTED
            and not (evidence.has_revocation_data or allow_fetching)
            and result.sub_indication == "CERTIFICATE_CHAIN_GENERAL_FAILURE"
        ):
            # a hard-fail without any revocation data to look at: status unknown, not untrusted
            finding = Finding(Code.REVOCATION_UNCHECKED, result.sub_indication)
        result.findings.append(finding)
    tst = status.timestamp_validity
    if tst is None:
        result.findings.append(Finding(Code.NO_TIMESTAMP))
    else:
        result.timestamp = TimestampInfo(tst.timestamp, "", tst.intact and tst.valid, tst.trusted)
        result.findings.append(
            Finding(Code.TIMESTAMP_VALID if tst.trusted else Code.TIMESTAMP_UNTRUSTED)
        )
