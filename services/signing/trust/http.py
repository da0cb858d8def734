"""HTTP endpoints of the trust services (what PDF readers and validators use).

- ``GET /pki/issuing.crl``, ``GET /pki/root.crl``: DER CRLs (``application/pkix-crl``);
- ``GET /pki/issuing.cer``, ``GET /pki/root.cer``: CA certificates (``application/pkix-cert``);
- ``POST /pki/ocsp`` and ``GET /pki/ocsp/{base64}``: RFC 6960 OCSP;
- ``POST /pki/tsa``: RFC 3161 timestamps (``application/timestamp-query``).

Protocol errors are answered in the protocol (``malformedRequest``, PKIStatus ``rejection``),
never as crashes or HTML error pages.
"""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import unquote

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from hoso.common.errors import FailedPrecondition
from hoso.signing.trust.ocsp import error_response
from hoso.signing.trust.service import TrustServices
from hoso.signing.trust.tsa import rejection

__all__ = ["MAX_REQUEST_BYTES", "add_routes"]

log = logging.getLogger(__name__)

#: OCSP and timestamp requests are a few hundred bytes; anything larger is refused.
MAX_REQUEST_BYTES = 64 * 1024


def add_routes(app: web.Application, services: TrustServices) -> None:
    """Register the PKI routes on ``app`` (before the application starts)."""

    async def crl(request: web.Request) -> web.Response:
        root = request.match_info["which"] == "root"
        try:
            body = await services.current_crl(root=root)
        except FailedPrecondition as e:  # an imported root's key is offline
            raise web.HTTPNotFound(text=e.message) from e
        return web.Response(body=body, content_type="application/pkix-crl")

    async def certificate(request: web.Request) -> web.Response:
        authority = await services.authority()
        material = authority.root if request.match_info["which"] == "root" else authority.issuing
        der = material.certificate.public_bytes(serialization.Encoding.DER)
        return web.Response(body=der, content_type="application/pkix-cert")

    async def _ocsp(body: bytes) -> web.Response:
        try:
            answer = await services.answer_ocsp(body)
        except Exception:  # the responder must answer in-protocol, whatever happened
            log.exception("OCSP responder failed")
            answer = error_response("internal_error").dump()
        return web.Response(body=answer, content_type="application/ocsp-response")

    async def ocsp_post(request: web.Request) -> web.Response:
        body = await request.content.read(MAX_REQUEST_BYTES + 1)
        if len(body) > MAX_REQUEST_BYTES:
            body = b""
        return await _ocsp(body)

    async def ocsp_get(request: web.Request) -> web.Response:
        encoded = unquote(request.match_info["encoded"])
        try:
            body = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            body = b""
        return await _ocsp(body)

    async def tsa(request: web.Request) -> web.Response:
        body = await request.content.read(MAX_REQUEST_BYTES + 1)
        if len(body) > MAX_REQUEST_BYTES:
            answer = rejection("bad_request", "request too large").dump()
        else:
            try:
                answer = await (await services.timestamp_authority()).respond_der(body)
            except Exception:
                log.exception("timestamp authority failed")
                answer = rejection("system_failure", "the TSA failed; try again").dump()
        return web.Response(body=answer, content_type="application/timestamp-reply")

    app.router.add_get("/pki/{which:issuing|root}.crl", crl)
    app.router.add_get("/pki/{which:issuing|root}.cer", certificate)
    app.router.add_post("/pki/ocsp", ocsp_post)
    app.router.add_get("/pki/ocsp/{encoded:.+}", ocsp_get)
    app.router.add_post("/pki/tsa", tsa)
