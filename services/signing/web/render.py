"""Server-rendered HTML of the verification pages: accessible, phone-friendly, no script.

Every value that comes from a document, a certificate or a request is escaped here; nothing
else builds HTML.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape

from cryptography import x509
from cryptography.x509.oid import NameOID
from hoso.signing.v1 import signing_pb2 as _sign_pb
from hoso.signing.v1 import verification_pb2 as _pb
from hoso.signing.web.texts import (
    Lang,
    coverage_label,
    modification_label,
    revocation_label,
    text,
    verdict_label,
)

__all__ = [
    "ArchivedDocument",
    "PageLinks",
    "QrClaims",
    "render_error",
    "render_report",
    "render_upload_form",
    "signer_name",
]

VIETNAM = dt.timezone(dt.timedelta(hours=7))

_STYLE = """
:root{color-scheme:light}
body{font-family:"DejaVu Sans",system-ui,sans-serif;margin:0;color:#111;background:#fff;
line-height:1.5;font-size:1rem}
main{max-width:52rem;margin:0 auto;padding:1rem}
header{background:#0b3d91;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;
justify-content:space-between;align-items:center;gap:.5rem}
header a{color:#fff;font-weight:bold}
h1{font-size:1.4rem;margin:.2rem 0}
h2{font-size:1.2rem;margin-top:1.5rem}
dl{display:grid;grid-template-columns:minmax(8rem,14rem) 1fr;gap:.25rem 1rem;margin:0}
dt{font-weight:bold}
dd{margin:0;overflow-wrap:anywhere}
@media (max-width:36rem){dl{grid-template-columns:1fr}dd{margin-bottom:.5rem}}
.verdict{display:inline-block;padding:.4rem .8rem;border:3px solid;border-radius:.3rem;
font-size:1.25rem;font-weight:bold}
.v-VALID{color:#0a5c24;background:#e6f4ea;border-color:#0a5c24}
.v-MODIFIED,.v-INDETERMINATE{color:#6b3d00;background:#fff4e0;border-color:#6b3d00}
.v-INVALID{color:#8a1020;background:#fdecee;border-color:#8a1020}
.v-UNSIGNED{color:#333;background:#f1f1f1;border-color:#333}
section.signature{border:1px solid #767676;border-radius:.3rem;padding:.75rem;margin:1rem 0}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.5rem;border:1px solid #ccc}
label{display:block;font-weight:bold;margin:.5rem 0}
input[type=file]{font-size:1rem;max-width:100%}
button{font-size:1.05rem;padding:.5rem 1.2rem;margin-top:.75rem;background:#0b3d91;color:#fff;
border:0;border-radius:.3rem}
button:focus,a:focus,input:focus{outline:3px solid #f4b400;outline-offset:2px}
.error{color:#8a1020;font-weight:bold}
"""


@dataclass(frozen=True)
class ArchivedDocument:
    """What the archive says about the verified document (for the QR page)."""

    dossier_code: str
    file_version: str
    filename: str
    version: int
    archived_at: dt.datetime | None


@dataclass(frozen=True)
class QrClaims:
    """The details a QR code printed next to the signature (unproven, shown as such)."""

    procedure: str = ""
    applicant: str = ""
    document: str = ""

    def __bool__(self) -> bool:
        return bool(self.procedure or self.applicant or self.document)


@dataclass(frozen=True)
class PageLinks:
    """Where the language switch and the upload form point."""

    switch_href: str
    form_href: str = "/verify"
    extra: dict[str, str] = field(default_factory=dict)


def _time(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(VIETNAM).isoformat(sep=" ", timespec="seconds")


def _ts(value: object) -> dt.datetime | None:
    seconds = getattr(value, "seconds", 0)
    nanos = getattr(value, "nanos", 0)
    if not seconds and not nanos:
        return None
    return dt.datetime.fromtimestamp(seconds + nanos / 1e9, dt.UTC)


def _enum(enum_type: object, value: int, prefix: str) -> str:
    return enum_type.Name(value).removeprefix(prefix)  # type: ignore[attr-defined]


def signer_name(summary: _pb.CertificateSummary) -> str:
    """The common name of a certificate, falling back to its whole subject."""
    if summary.der:
        try:
            names = x509.load_der_x509_certificate(summary.der).subject.get_attributes_for_oid(
                NameOID.COMMON_NAME
            )
            if names:
                return str(names[0].value)
        except ValueError:
            pass
    return summary.subject


def _page(lang: Lang, title: str, links: PageLinks, body: str) -> str:
    switch_lang = "vi" if lang == "en" else "en"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f'<a class="skip" href="#content">{escape(text("skip", lang))}</a>\n'
        f"<header><span>{escape(text('title', lang))}</span>"
        f'<a href="{escape(links.switch_href)}" lang="{switch_lang}" hreflang="{switch_lang}">'
        f"{escape(text('switch', lang))}</a></header>\n"
        f'<main id="content">\n<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n'
    )


def _rows(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list; values are escaped here."""
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in pairs)
    return f"<dl>{items}</dl>"


def _verdict_badge(code: str, lang: Lang, element_id: str = "") -> str:
    attr = f' id="{escape(element_id)}"' if element_id else ""
    return (
        f'<p><span class="verdict v-{escape(code)}"{attr} data-verdict="{escape(code)}">'
        f"{escape(verdict_label(code, lang))} ({escape(code)})</span></p>"
    )


def _findings(findings: Sequence[_pb.Finding], lang: Lang) -> str:
    if not findings:
        return ""
    items = "".join(
        f'<li data-code="{escape(f.code)}">'
        f"{escape(f.message_en if lang == 'en' else f.message_vi) or escape(f.code)}</li>"
        for f in findings
    )
    return f"<h4>{escape(text('findings', lang))}</h4><ul>{items}</ul>"


def _signature(index: int, sig: _pb.SignatureResult, lang: Lang) -> str:
    verdict = _enum(_pb.Verdict, sig.verdict, "VERDICT_")
    ts = sig.signature_timestamp
    ts_time = _ts(ts.time) if sig.HasField("signature_timestamp") else None
    if ts_time is not None:
        when = f"{_time(ts_time)} ({text('timestamp_by', lang, tsa=signer_name(ts.tsa))})"
    else:
        when = f"{_time(_ts(sig.claimed_signing_time))} ({text('claimed', lang)})"
    yes, no = text("yes", lang), text("no", lang)
    pairs = [
        (text("signer", lang), signer_name(sig.signer)),
        (text("signer_subject", lang), sig.signer.subject),
        (text("issuer", lang), sig.signer.issuer),
        (text("serial", lang), sig.signer.serial_hex),
        (
            text("validity", lang),
            text(
                "validity_range",
                lang,
                start=_time(_ts(sig.signer.not_before)),
                end=_time(_ts(sig.signer.not_after)),
            ),
        ),
        (text("signing_time", lang), when),
        (
            text("integrity", lang),
            text("integrity_ok" if sig.integrity_ok else "integrity_bad", lang),
        ),
        (text("valid_at_signing", lang), yes if sig.certificate_valid_at_signing_time else no),
        (
            text("revocation", lang),
            revocation_label(
                _enum(_pb.RevocationStatus, sig.revocation_status, "REVOCATION_STATUS_"), lang
            ),
        ),
        (text("trusted_anchor", lang), sig.trusted_anchor or text("untrusted", lang)),
        (
            text("level", lang),
            _enum(_sign_pb.PadesLevel, sig.level, "PADES_LEVEL_").replace("_", "-"),
        ),
        (
            text("coverage", lang),
            coverage_label(_enum(_pb.SignatureCoverage, sig.coverage, "SIGNATURE_COVERAGE_"), lang),
        ),
        (
            text("changes", lang),
            modification_label(
                _enum(_pb.ModificationLevel, sig.modification_level, "MODIFICATION_LEVEL_"), lang
            ),
        ),
    ]
    changes = "".join(f"<li>{escape(c.description)}</li>" for c in sig.changes)
    heading = text("signature_n", lang, n=str(index))
    return (
        f'<section class="signature" aria-labelledby="sig{index}">'
        f'<h3 id="sig{index}">{escape(heading)} — {escape(sig.field_name)}</h3>'
        f"{_verdict_badge(verdict, lang)}{_rows(pairs)}"
        f"{f'<ul>{changes}</ul>' if changes else ''}{_findings(sig.findings, lang)}</section>"
    )


def render_report(
    report: _pb.VerificationReport,
    lang: Lang,
    links: PageLinks,
    *,
    filename: str = "",
    archived: ArchivedDocument | None = None,
    qr: QrClaims | None = None,
) -> str:
    """The report page of one verified document."""
    verdict = _enum(_pb.Verdict, report.verdict, "VERDICT_")
    doc: list[tuple[str, str]] = []
    if archived is not None:
        doc += [
            (text("dossier", lang), archived.dossier_code),
            (text("file_name", lang), archived.filename),
            (text("version", lang), str(archived.version)),
            (text("archived_at", lang), _time(archived.archived_at)),
        ]
    elif filename:
        doc.append((text("file_name", lang), filename))
    doc += [
        (text("sha256", lang), report.document_sha256),
        (text("checked_at", lang), _time(_ts(report.validation_time))),
        (text("revisions", lang), str(report.revision_count)),
        (text("trust_profile", lang), report.trust_profile),
    ]
    body = [
        f'<h2 id="verdict-heading">{escape(text("verdict", lang))}</h2>',
        _verdict_badge(verdict, lang, "verdict"),
        _findings(report.findings, lang),
        f"<h2>{escape(text('document', lang))}</h2>",
        _rows(doc),
    ]
    if qr:
        body += [
            f"<h2>{escape(text('qr_claims', lang))}</h2>",
            _rows(
                [
                    (text("qr_procedure", lang), qr.procedure),
                    (text("qr_applicant", lang), qr.applicant),
                    (text("qr_document", lang), qr.document),
                ]
            ),
            f"<p>{escape(text('qr_note', lang))}</p>",
        ]
    body.append(f"<h2>{escape(text('signatures', lang))}</h2>")
    if not report.signatures:
        body.append(f"<p>{escape(text('no_signatures', lang))}</p>")
    body += [_signature(i, s, lang) for i, s in enumerate(report.signatures, start=1)]
    if report.human_report:
        body.append(
            f"<details><summary>{escape(text('full_report', lang))}</summary>"
            f"<pre>{escape(report.human_report)}</pre></details>"
        )
    body.append(
        f'<p><a href="{escape(links.form_href)}">{escape(text("check_another", lang))}</a></p>'
    )
    return _page(lang, text("report_title", lang), links, "\n".join(b for b in body if b))


def render_upload_form(lang: Lang, links: PageLinks, *, error: str = "") -> str:
    """The page with the upload form (and an error above it, if any)."""
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        f"<h2>{escape(text('upload_heading', lang))}</h2>{alert}"
        f'<form method="post" action="{escape(links.form_href)}" enctype="multipart/form-data">'
        f'<p id="upload-help">{escape(text("upload_help", lang))}</p>'
        f'<label for="file">{escape(text("upload_label", lang))}</label>'
        '<input type="file" id="file" name="file" accept="application/pdf,.pdf" required '
        'aria-describedby="upload-help">'
        f'<input type="hidden" name="lang" value="{escape(lang)}">'
        f'<div><button type="submit">{escape(text("upload_button", lang))}</button></div>'
        "</form>"
    )
    return _page(lang, text("title", lang), links, body)


def render_error(lang: Lang, links: PageLinks, message: str) -> str:
    """An error page that says what went wrong and offers the upload form."""
    body = (
        f'<p class="error" role="alert">{escape(message)}</p>'
        f'<p><a href="{escape(links.form_href)}">{escape(text("check_another", lang))}</a></p>'
    )
    return _page(lang, text("error_title", lang), links, body)
