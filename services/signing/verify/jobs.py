"""Verification as a self-contained job for a worker process (``runtime.run_cpu``).

Everything here takes and returns picklable values: the document as bytes (small files) or a
spool path (large ones, so hundreds of megabytes are not pickled through a pipe), the trust
profile dataclass, and the result with both reports already rendered, since the JSON and text
reports are CPU work too.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from hoso.signing.verify.detached import verify_detached
from hoso.signing.verify.engine import VerifyOptions, verify_pdf
from hoso.signing.verify.findings import Lang
from hoso.signing.verify.model import DocumentResult
from hoso.signing.verify.profiles import TrustProfile
from hoso.signing.verify.report_json import to_etsi_dict
from hoso.signing.verify.report_text import render_text

__all__ = ["ReportBundle", "verify_detached_job", "verify_pdf_job"]


@dataclass(frozen=True)
class ReportBundle:
    """A result and its two renderings."""

    result: DocumentResult
    json_report: str
    human_report: str


def _read(source: bytes | str) -> bytes:
    return source if isinstance(source, bytes) else Path(source).read_bytes()


def _bundle(result: DocumentResult, lang: Lang) -> ReportBundle:
    return ReportBundle(
        result=result,
        json_report=json.dumps(to_etsi_dict(result, lang), ensure_ascii=False),
        human_report=render_text(result, lang),
    )


def _quiet() -> None:
    # pyHanko logs every failed path with a traceback; the findings carry what matters
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)


def verify_pdf_job(
    source: bytes | str,
    profile: TrustProfile,
    options: VerifyOptions,
    file_name: str,
    lang: Lang,
) -> ReportBundle:
    """Verify a PDF (bytes or a file path) and render both reports.

    Raises:
        VerifyRefused: as :func:`hoso.signing.verify.engine.verify_pdf`.
    """
    _quiet()
    return _bundle(verify_pdf(_read(source), profile, options, file_name=file_name), lang)


def verify_detached_job(
    source: bytes | str,
    signature: bytes,
    profile: TrustProfile,
    allow_fetching: bool,
    file_name: str,
    lang: Lang,
) -> ReportBundle:
    """Verify a detached CMS over a file (bytes or a path) and render both reports."""
    _quiet()
    result = verify_detached(
        _read(source), signature, profile, allow_fetching=allow_fetching, file_name=file_name
    )
    return _bundle(result, lang)
