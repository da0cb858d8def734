"""Verify a signed PDF: the driver that runs the checks in order and reaches the verdicts.

``verify_pdf`` is synchronous CPU work: call it from a worker thread or process (the servicer
uses ``runtime.run_cpu``), never on the event loop. It raises :mod:`.errors` only for files
that cannot be verified as sent (not a PDF, encrypted, over a limit); every other problem,
including a damaged file or a malformed signature, is a verdict with its reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field

from hoso.signing.verify import fastparse
from hoso.signing.verify.changes import summarise_revisions, take_snapshot
from hoso.signing.verify.errors import EncryptedDocument, NotAPdf, TooComplex
from hoso.signing.verify.evidence import Evidence, cms_evidence, dss_evidence
from hoso.signing.verify.findings import Code, Finding, Verdict, verdict_of, worst
from hoso.signing.verify.model import DocumentResult, RevisionChange, SignatureResult
from hoso.signing.verify.postsign import analyse_after_signing
from hoso.signing.verify.profiles import (
    ContextFactory,
    TrustProfile,
    context_factory,
    relax_revocation,
)
from hoso.signing.verify.signature import validate_embedded
from hoso.signing.verify.structure import check_signature_dictionary, check_trailing_data
from hoso.signing.verify.visual import PageRenderer
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext

__all__ = ["VerifyLimits", "VerifyOptions", "verify_pdf"]

_log = logging.getLogger(__name__)
fastparse.install()  # signature /Contents are long hex strings; see the module
_SUPPORTED_SUBFILTERS = {"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", "/ETSI.RFC3161"}


@dataclass(frozen=True)
class VerifyLimits:
    """Limits that keep a hostile file from exhausting the verifier."""

    max_bytes: int = 256 * 1024 * 1024
    max_objects: int = 1_000_000
    max_revisions: int = 500
    max_signatures: int = 200


@dataclass(frozen=True)
class VerifyOptions:
    """How to verify."""

    allow_fetching: bool = False
    """Fetch missing OCSP/CRL data online; otherwise only what the file carries is used."""
    visual_check: bool = True
    """Render pages to catch later appearances drawn over signed content."""
    limits: VerifyLimits = field(default_factory=VerifyLimits)


def _preflight(data: bytes, limits: VerifyLimits) -> None:
    if len(data) > limits.max_bytes:
        raise TooComplex(
            f"the file has {len(data)} bytes; the limit is {limits.max_bytes} (verify.max_bytes)"
        )
    if b"%PDF-" not in data[:1024]:
        raise NotAPdf("document is not a PDF (no %PDF- header in the first 1024 bytes)")
    # counting object ends is a cheap bound before the parser builds its tables (objects in
    # object streams are bounded by the /Size of the cross-reference stream instead)
    objects = data.count(b"endobj")
    sizes = [int(m) for m in re.findall(rb"/Size\s+(\d{1,12})", data[-65536:])]
    if objects > limits.max_objects or any(s > limits.max_objects for s in sizes):
        raise TooComplex(
            f"the file declares more than {limits.max_objects} objects (verify.max_objects)"
        )


def _open(data: bytes, limits: VerifyLimits) -> PdfFileReader:
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    if reader.encrypted:
        raise EncryptedDocument(
            "document is encrypted; decrypt it or verify the unencrypted original"
        )
    if reader.xrefs.total_revisions > limits.max_revisions:
        raise TooComplex(
            f"the file has {reader.xrefs.total_revisions} revisions; the limit is "
            f"{limits.max_revisions} (verify.max_revisions)"
        )
    return reader


def _malformed(data: bytes, profile: TrustProfile, reason: str, name: str) -> DocumentResult:
    return DocumentResult(
        verdict=Verdict.INVALID,
        signatures=[],
        findings=[Finding(Code.MALFORMED_PDF, reason[:300])],
        document_sha256=hashlib.sha256(data).hexdigest(),
        document_size=len(data),
        revisions=0,
        validated_at=dt.datetime.now(dt.UTC),
        trust_profile=profile.name,
        file_name=name,
    )


def verify_pdf(
    data: bytes,
    profile: TrustProfile,
    options: VerifyOptions | None = None,
    *,
    file_name: str = "",
) -> DocumentResult:
    """Verify every signature and document timestamp in ``data``.

    Raises:
        NotAPdf: no PDF header.
        EncryptedDocument: the PDF is encrypted.
        TooComplex: a configured limit is exceeded.
    """
    options = options or VerifyOptions()
    _preflight(data, options.limits)
    try:
        reader = _open(data, options.limits)
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except (EncryptedDocument, TooComplex):
        raise
    except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        return _malformed(data, profile, f"{type(e).__name__}: {e}", file_name)
    except RecursionError:
        return _malformed(data, profile, "object graph too deep", file_name)
    if len(fields) > options.limits.max_signatures:
        raise TooComplex(
            f"the file has {len(fields)} signatures; the limit is "
            f"{options.limits.max_signatures} (verify.max_signatures)"
        )
    return asyncio.run(_verify_fields(data, reader, fields, profile, options, file_name))


async def _verify_fields(
    data: bytes,
    reader: PdfFileReader,
    fields: list[tuple[str, generic.PdfObject, generic.IndirectObject]],
    profile: TrustProfile,
    options: VerifyOptions,
    file_name: str,
) -> DocumentResult:
    doc_findings: list[Finding] = []
    try:
        doc_findings += check_trailing_data(reader, data)
    except PdfError as e:
        doc_findings.append(Finding(Code.MALFORMED_PDF, str(e)[:300]))
    factory = context_factory(profile)
    dss = dss_evidence(reader)
    renderer = PageRenderer(data) if options.visual_check else None
    final_snapshot = None
    results: list[SignatureResult] = []
    embedded: list[tuple[EmbeddedPdfSignature, SignatureResult]] = []

    for name, value, field_ref in fields:
        result = SignatureResult(field_name=str(name))
        results.append(result)
        try:
            sig_object = value.get_object()
            if not isinstance(sig_object, generic.DictionaryObject):
                raise PdfError("signature value is not a dictionary")
            if sig_object.get("/Type") == "/DocTimeStamp":
                result.kind = "document_timestamp"
            subfilter = str(sig_object.get("/SubFilter", ""))
            result.subfilter = subfilter
            if subfilter not in _SUPPORTED_SUBFILTERS:
                result.findings.append(Finding(Code.UNSUPPORTED_SUBFILTER, subfilter or "none"))
                continue
            structural = check_signature_dictionary(data, sig_object)
            if structural:
                result.findings += structural
                continue
            # pyHanko passes the field reference too (its annotation says dictionary)
            emb = EmbeddedPdfSignature(reader, field_ref, str(name))  # type: ignore[arg-type]
        except (PdfError, ValueError, KeyError, TypeError, IndexError) as e:
            result.findings.append(Finding(Code.CMS_MALFORMED, f"{type(e).__name__}: {e}"[:300]))
            continue
        embedded.append((emb, result))

    summaries: dict[int, RevisionChange] = {}  # per later revision, shared by all signatures
    ts_context = _shared_timestamp_context(factory, dss, embedded, options.allow_fetching)
    for emb, result in embedded:
        try:
            await validate_embedded(
                emb,
                result,
                reader=reader,
                factory=factory,
                dss=dss,
                allow_fetching=options.allow_fetching,
                ts_context=ts_context,
            )
        except (PdfError, ValueError, KeyError, TypeError, IndexError) as e:
            # pyHanko raises on CMS it cannot make sense of: that is a broken signature
            _log.info("signature %s failed validation: %r", result.field_name, e)
            result.findings.append(Finding(Code.CMS_MALFORMED, f"{type(e).__name__}: {e}"[:300]))
            continue
        if not result.intact or result.signed_revision is None:
            continue
        if any(f.code == Code.COVERAGE_INCOMPLETE for f in result.findings):
            continue
        result.changes = summarise_revisions(reader, result.signed_revision, summaries)
        if final_snapshot is None:
            final_snapshot = take_snapshot(reader, reader.xrefs.total_revisions - 1)
        flagged = any(f.implies == Verdict.MODIFIED for f in result.findings)
        result.findings += analyse_after_signing(
            reader,
            result.signed_revision,
            emb.byte_range[2] + emb.byte_range[3],
            final_snapshot,
            renderer,
            pyhanko_flagged=flagged,
        )

    _assign_levels(results)
    for result in results:
        result.findings = relax_revocation(profile, result.findings + doc_findings)
        result.verdict = verdict_of(result.findings)
    verdict = worst([r.verdict for r in results]) if results else Verdict.UNSIGNED
    if not results:
        doc_findings = [*doc_findings, Finding(Code.UNSIGNED)]
        verdict = verdict_of(doc_findings, baseline=Verdict.UNSIGNED)
        if verdict == Verdict.MODIFIED:
            verdict = Verdict.UNSIGNED  # nothing signed can have been modified
    return DocumentResult(
        verdict=verdict,
        signatures=results,
        findings=doc_findings,
        document_sha256=hashlib.sha256(data).hexdigest(),
        document_size=len(data),
        revisions=reader.xrefs.total_revisions,
        validated_at=dt.datetime.now(dt.UTC),
        trust_profile=profile.name,
        file_name=file_name,
    )


def _shared_timestamp_context(
    factory: ContextFactory,
    dss: Evidence,
    embedded: list[tuple[EmbeddedPdfSignature, SignatureResult]],
    allow_fetching: bool,
) -> ValidationContext | None:
    """One context for every timestamp of the document, with all the evidence it carries."""
    evidence = dss
    try:
        for emb, _ in embedded:
            evidence = evidence + cms_evidence(emb.signer_info, emb.signed_data)
    except (PdfError, ValueError, KeyError, TypeError, IndexError):
        return None  # a broken CMS: each signature builds its own context and reports it
    return factory.build(
        other_certs=evidence.certs,
        crls=evidence.crls,
        ocsps=evidence.ocsps,
        allow_fetching=allow_fetching,
    )


def _assign_levels(results: list[SignatureResult]) -> None:
    """PAdES baseline level reached by each signature (ETSI EN 319 142-1)."""
    doc_ts_revisions = [
        r.signed_revision
        for r in results
        if r.kind == "document_timestamp" and r.intact and r.trusted and r.signed_revision
    ]
    for result in results:
        if result.kind != "signature" or not (result.intact and result.signature_value_ok):
            continue
        if result.subfilter != "/ETSI.CAdES.detached":
            result.pades_level = "PKCS7"
            continue
        level = "B-B"
        if result.timestamp is not None and result.timestamp.intact and result.timestamp.trusted:
            level = "B-T"
            if result.revocation_checked and result.revocation_source == "embedded":
                level = "B-LT"
                if any(rev > (result.signed_revision or 0) for rev in doc_ts_revisions):
                    level = "B-LTA"
        result.pades_level = level
