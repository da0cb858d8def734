"""The HTTP routes of the verification pages, added to the signing service's HTTP port.

Public and read-only: the pages show verification reports, never document content. Uploaded
files are verified in memory and forgotten.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from urllib.parse import quote, urlencode

import grpc
from aiohttp import BodyPartReader, web
from hoso.signing.v1 import verification_pb2 as _pb
from hoso.signing.web.backends import BackendError, GrpcBackends, PageBackends
from hoso.signing.web.render import (
    ArchivedDocument,
    PageLinks,
    QrClaims,
    render_error,
    render_report,
    render_upload_form,
)
from hoso.signing.web.texts import Lang, pick_language, text

__all__ = ["MAX_UPLOAD_BYTES", "VerificationPages", "register", "verification_url"]

log = logging.getLogger("hoso.signing.web")

#: Largest PDF the public pages verify (uploaded or archived).
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
_DOSSIER_CODE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STATUS_FOR_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "error_not_pdf"),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "error_not_pdf"),
    grpc.StatusCode.NOT_FOUND: (404, "error_not_found"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (413, "error_too_large"),
}


def verification_url(public_base_url: str, dossier_code: str, file: str) -> str:
    """The public page of an archived document: what the QR code on a signed result links to.

    ``file`` is the file's name in the dossier (known before archiving) or its file id.
    """
    base = public_base_url.rstrip("/")
    return f"{base}/verify/{quote(dossier_code, safe='')}/{quote(file, safe='')}"


def _language_of(request: web.Request) -> _pb.ReportLanguage.ValueType:
    return (
        _pb.REPORT_LANGUAGE_EN
        if pick_language(request.query.get("lang")) == "en"
        else (_pb.REPORT_LANGUAGE_VI)
    )


def _switch_href(request: web.Request, lang: Lang) -> str:
    query = {k: v for k, v in request.query.items() if k != "lang"}
    query["lang"] = "vi" if lang == "en" else "en"
    return f"{request.path}?{urlencode(query)}"


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS
    )


class VerificationPages:
    """Handlers of ``/verify`` and ``/verify/{dossier}/{file}[/{version}]``."""

    def __init__(self, backends: PageBackends, *, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
        """Serve reports from ``backends``; refuse documents over ``max_bytes``."""
        self._backends = backends
        self._max_bytes = max_bytes

    def add_routes(self, app: web.Application) -> None:
        """Add the routes to ``app``."""
        app.router.add_get("/verify", self.form)
        app.router.add_post("/verify", self.upload)
        app.router.add_get("/verify/{dossier}/{file}", self.archived)
        app.router.add_get(r"/verify/{dossier}/{file}/{version:\d{1,9}}", self.archived)

    def _links(self, request: web.Request, lang: Lang) -> PageLinks:
        return PageLinks(switch_href=_switch_href(request, lang), form_href=f"/verify?lang={lang}")

    def _failure(self, request: web.Request, lang: Lang, error: BackendError) -> web.Response:
        status, key = _STATUS_FOR_CODE.get(error.code, (503, "error_unavailable"))
        if status == 503:
            log.warning("verification page backend failed: %s %s", error.code.name, error.message)
        message = text(key, lang, detail=error.message)
        return _html(render_error(lang, self._links(request, lang), message), status)

    async def form(self, request: web.Request) -> web.Response:
        """``GET /verify``: the upload form."""
        lang = pick_language(request.query.get("lang"))
        return _html(render_upload_form(lang, self._links(request, lang)))

    async def upload(self, request: web.Request) -> web.Response:
        """``POST /verify``: verify the uploaded PDF (multipart field ``file``)."""
        lang = pick_language(request.query.get("lang"))
        data, filename = b"", ""
        try:
            if request.content_type != "multipart/form-data":
                # a form without a file arrives url-encoded: only the language can be in it
                lang = pick_language((await request.post()).get("lang", lang))  # type: ignore[arg-type]
            else:
                reader = await request.multipart()
                while (part := await reader.next()) is not None:
                    if not isinstance(part, BodyPartReader):
                        continue  # a nested multipart: no form of ours sends one
                    if part.name == "lang":
                        lang = pick_language(await part.text())
                    elif part.name == "file":
                        filename = part.filename or ""
                        data = await self._read_capped(part)
        except _Oversized:
            message = text("error_too_large", lang, detail=f"> {self._max_bytes} bytes")
            return _html(render_upload_form(lang, self._links(request, lang), error=message), 413)
        except (ValueError, AssertionError, KeyError, web.HTTPRequestEntityTooLarge):
            data = b""
        if not data:
            error = text("error_no_file", lang)
            return _html(render_upload_form(lang, self._links(request, lang), error=error), 400)
        language = _pb.REPORT_LANGUAGE_EN if lang == "en" else _pb.REPORT_LANGUAGE_VI
        try:
            report = await self._backends.verify(data, filename, language)
        except BackendError as e:
            return self._failure(request, lang, e)
        links = PageLinks(
            switch_href=f"/verify?lang={'vi' if lang == 'en' else 'en'}",
            form_href=f"/verify?lang={lang}",
        )
        return _html(render_report(report, lang, links, filename=filename))

    async def _read_capped(self, part: BodyPartReader) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk(256 * 1024):
            size += len(chunk)
            if size > self._max_bytes:
                raise _Oversized
            chunks.append(chunk)
        return b"".join(chunks)

    async def archived(self, request: web.Request) -> web.Response:
        """``GET /verify/{dossier}/{file}[/{version}]``: the report of an archived document."""
        lang = pick_language(request.query.get("lang"))
        dossier = request.match_info["dossier"]
        file = request.match_info["file"]
        version_text = request.match_info.get("version")
        if not _DOSSIER_CODE.match(dossier) or not file or len(file) > 255:
            message = text("error_not_found", lang, detail=f"{dossier}/{file}")
            return _html(render_error(lang, self._links(request, lang), message), 404)
        version = int(version_text) if version_text else None
        try:
            found = await self._backends.archived(dossier, file, version, max_bytes=self._max_bytes)
            report = await self._backends.verify(
                found.data, found.version.filename, _language_of(request)
            )
        except BackendError as e:
            return self._failure(request, lang, e)
        archived_at = (
            found.version.create_time.ToDatetime(tzinfo=dt.UTC)
            if found.version.HasField("create_time")
            else None
        )
        document = ArchivedDocument(
            dossier_code=found.dossier.dossier_code or dossier,
            file_version=found.version.name,
            filename=found.version.filename,
            version=found.version.version,
            archived_at=archived_at,
        )
        qr = QrClaims(
            procedure=request.query.get("procedure", "")[:200],
            applicant=request.query.get("applicant", "")[:200],
            document=request.query.get("document", "")[:300],
        )
        page = render_report(
            report, lang, self._links(request, lang), archived=document, qr=qr or None
        )
        return _html(page)


class _Oversized(Exception):
    """The upload passed the size limit."""


def register(runtime: object, backends: PageBackends | None = None) -> VerificationPages:
    """Add the verification pages to ``runtime.http``.

    Without ``backends`` the pages call ``VerifyPdf`` and the archive through the process's
    loopback channel (``runtime.loopback_channel()``, opened on the first request).
    """
    pages = VerificationPages(backends or GrpcBackends(runtime.loopback_channel))  # type: ignore[attr-defined]
    pages.add_routes(runtime.http)  # type: ignore[attr-defined]
    return pages
