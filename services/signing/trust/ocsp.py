"""RFC 6960 OCSP responder core: requests in, signed ``OCSPResponse`` out.

Pure protocol code: the caller supplies the statuses (from the catalog), the responder
certificate (delegated, with id-pkix-ocsp-nocheck) and its key handle. Malformed requests get a
``malformedRequest`` response, never an exception.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from asn1crypto import ocsp
from asn1crypto import x509 as asn1_x509
from hoso.signing.keystore.api import KeyHandle

__all__ = [
    "CertStatus",
    "OcspResponder",
    "Status",
    "cert_id_for",
    "error_response",
]


class Status(enum.StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CertStatus:
    """The status of one serial as the catalog knows it."""

    status: Status
    revoked_at: dt.datetime | None = None
    reason: str | None = None
    """asn1crypto ``CRLReason`` name, e.g. ``key_compromise``, ``certificate_hold``."""


StatusLookup = Callable[[int], Awaitable[CertStatus]]


def cert_id_for(
    serial: int, issuer: asn1_x509.Certificate, hash_algorithm: str = "sha1"
) -> ocsp.CertId:
    """The ``CertID`` of a certificate issued by ``issuer`` (SHA-1 is what clients send)."""
    return ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": hash_algorithm},
            "issuer_name_hash": hashlib.new(hash_algorithm, issuer.subject.dump()).digest(),
            "issuer_key_hash": hashlib.new(
                hash_algorithm, issuer.public_key["public_key"].contents[1:]
            ).digest(),
            "serial_number": serial,
        }
    )


def error_response(status: str) -> ocsp.OCSPResponse:
    """An unsigned error response: ``malformed_request``, ``internal_error``, ``unauthorized``…"""
    return ocsp.OCSPResponse({"response_status": status})


@dataclass
class OcspResponder:
    """Answers for the certificates of one issuer.

    Attributes:
        issuer: the CA whose certificates are answered for.
        certificate: the responder certificate (EKU OCSPSigning, ocsp-nocheck) or the CA itself.
        key: the responder's key handle.
        validity: ``nextUpdate - thisUpdate`` of each answer.
        digest_algorithm: hash of the response signature.
    """

    issuer: asn1_x509.Certificate
    certificate: asn1_x509.Certificate
    key: KeyHandle
    validity: dt.timedelta = dt.timedelta(hours=1)
    digest_algorithm: str = "sha256"

    def __post_init__(self) -> None:
        # Encode constant parts once (asn1crypto re-encodes built structures on every dump).
        self._responder_id = ocsp.ResponderId.load(
            ocsp.ResponderId(name="by_key", value=self.certificate.public_key.sha1).dump()
        )
        delegated = self.certificate.dump() != self.issuer.dump()
        self._certs = ocsp.Certificates.load(
            ocsp.Certificates([self.certificate] if delegated else []).dump()
        )
        self._issuer_hashes = {
            algorithm: cert_id_for(0, self.issuer, algorithm)
            for algorithm in ("sha1", "sha256", "sha384", "sha512")
        }

    def _is_ours(self, cert_id: ocsp.CertId) -> bool:
        algorithm = cert_id["hash_algorithm"]["algorithm"].native
        if algorithm not in ("sha1", "sha256", "sha384", "sha512"):
            return False
        expected = self._issuer_hashes[algorithm]
        return (
            cert_id["issuer_name_hash"].native == expected["issuer_name_hash"].native
            and cert_id["issuer_key_hash"].native == expected["issuer_key_hash"].native
        )

    async def sign(
        self,
        answers: Sequence[tuple[ocsp.CertId, CertStatus]],
        *,
        nonce: bytes | None = None,
        now: dt.datetime | None = None,
    ) -> ocsp.OCSPResponse:
        """Sign a successful response with one SingleResponse per ``(cert_id, status)``."""
        now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        responses = []
        for cert_id, status in answers:
            if status.status is Status.REVOKED:
                info: dict[str, object] = {"revocation_time": status.revoked_at}
                if status.reason:
                    info["revocation_reason"] = status.reason
                cert_status = ocsp.CertStatus(name="revoked", value=info)
            elif status.status is Status.GOOD:
                cert_status = ocsp.CertStatus(name="good", value=None)
            else:
                cert_status = ocsp.CertStatus(name="unknown", value=None)
            responses.append(
                {
                    "cert_id": cert_id,
                    "cert_status": cert_status,
                    "this_update": now,
                    "next_update": now + self.validity,
                }
            )
        data: dict[str, object] = {
            "responder_id": ocsp.ResponderId(name="by_key", value=self.certificate.public_key.sha1),
            "produced_at": now,
            "responses": responses,
        }
        if nonce is not None:
            data["response_extensions"] = [{"extn_id": "nonce", "extn_value": nonce}]
        tbs = ocsp.ResponseData(data)
        signature = await self.key.sign(tbs.dump(), digest_algorithm=self.digest_algorithm)
        basic = ocsp.BasicOCSPResponse(
            {
                "tbs_response_data": tbs,
                "signature_algorithm": self.key.signature_algorithm(self.digest_algorithm),
                "signature": signature,
                "certs": self._certs,
            }
        )
        return ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        )

    async def respond(self, body: bytes, lookup: StatusLookup) -> bytes:
        """Answer an encoded ``OCSPRequest`` (what the HTTP endpoint receives).

        Certificates of other issuers are answered ``unknown``. Never raises on bad input:
        undecodable requests get ``malformedRequest``.
        """
        try:
            request = ocsp.OCSPRequest.load(body)
            tbs = request["tbs_request"]
            items = [item["req_cert"] for item in tbs["request_list"]]
            for cert_id in items:
                cert_id.native  # noqa: B018 -- decode now so bad DER is caught here
            nonce_value = request.nonce_value
            nonce = nonce_value.native if nonce_value is not None else None
        except (ValueError, TypeError, KeyError):
            return error_response("malformed_request").dump()
        if not items:
            return error_response("malformed_request").dump()
        answers = []
        for cert_id in items:
            if self._is_ours(cert_id):
                status = await lookup(cert_id["serial_number"].native)
            else:
                status = CertStatus(Status.UNKNOWN)
            answers.append((cert_id, status))
        return (await self.sign(answers, nonce=nonce)).dump()
