"""Verification of signed PDFs and detached CAdES signatures for auditors (#5).

Entry points: :func:`hoso.signing.verify.engine.verify_pdf` (one document, all signatures),
the report renderers in :mod:`.report_json` and :mod:`.report_text`, and trust profiles in
:mod:`.profiles`.
"""

from __future__ import annotations
