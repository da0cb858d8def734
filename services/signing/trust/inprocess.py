"""Timestamps and revocation data for our own certificates, without an HTTP round trip.

The signing service embeds these in PAdES B-T/B-LT/B-LTA signatures:

- :class:`InProcessTimeStamper` is a pyHanko ``TimeStamper`` that asks our TSA directly;
- :meth:`InProcessRevocation.revocation_data` returns fresh OCSP responses and CRLs (DER)
  for a certificate and its issuing chain, suitable for
  ``ValidationContext(ocsps=..., crls=...)`` or a DSS.

Both read the catalog on each call, so a revocation is reflected immediately.
"""

from __future__ import annotations

from typing import TypeAlias

from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from hoso.signing.trust.authority import to_asn1
from hoso.signing.trust.ocsp import cert_id_for
from hoso.signing.trust.service import TrustServices
from pyhanko.sign.timestamps.api import TimeStamper

__all__ = ["InProcessRevocation", "InProcessTimeStamper"]

AnyCertificate: TypeAlias = x509.Certificate | asn1_x509.Certificate


def _asn1(certificate: AnyCertificate) -> asn1_x509.Certificate:
    return to_asn1(certificate) if isinstance(certificate, x509.Certificate) else certificate


class InProcessTimeStamper(TimeStamper):
    """A pyHanko ``TimeStamper`` answered by our TSA in the same process.

    Args:
        services: the trust services whose TSA signs.
        include_nonce: send a nonce (checked by pyHanko against the response).
    """

    def __init__(self, services: TrustServices, *, include_nonce: bool = True) -> None:
        super().__init__(include_nonce=include_nonce)
        self._services = services

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Ask our TSA; errors come back as a ``rejection`` status, as over HTTP."""
        tsa = await self._services.timestamp_authority()
        return await tsa.respond(req)  # type: ignore[return-value]


class InProcessRevocation:
    """Fresh OCSP responses and CRLs for certificates of our CA."""

    def __init__(self, services: TrustServices) -> None:
        self._services = services

    async def revocation_data(self, certificate: AnyCertificate) -> tuple[list[bytes], list[bytes]]:
        """``(ocsp_der_list, crl_der_list)`` covering ``certificate`` and its chain.

        - issued by our issuing CA: an OCSP response for it, the issuing CA's CRL, and the
          root's CRL (which covers the issuing CA certificate);
        - the issuing CA certificate itself: the root's CRL;
        - the root, or a certificate of another CA: nothing (``[], []``).
        """
        authority = await self._services.authority()
        cert = _asn1(certificate)
        issuing = to_asn1(authority.issuing.certificate)
        if (
            cert.issuer == issuing.subject
            and cert.authority_key_identifier == issuing.key_identifier
        ):
            responder = await self._services.ocsp_responder()
            serial = cert.serial_number
            status = await self._services.status(serial)
            response = await responder.sign([(cert_id_for(serial, issuing), status)])
            crls = [
                await self._services.current_crl(),
                await self._services.current_crl(root=True),
            ]
            return [response.dump()], crls
        if cert.dump() == issuing.dump():
            return [], [await self._services.current_crl(root=True)]
        return [], []

    async def __call__(self, certificate: AnyCertificate) -> tuple[list[bytes], list[bytes]]:
        return await self.revocation_data(certificate)
