"""RFC 3161 timestamp authority core: requests in, signed ``TimeStampResp`` out.

Pure protocol code: the caller supplies the TSA certificate, its key handle and the clock.
Malformed or unacceptable requests get a ``rejection`` status with the RFC 3161 failure
reason, never an exception, so the HTTP endpoint always answers with a valid response.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from hoso.signing.keystore.api import KeyHandle
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute

__all__ = ["TimeStampResponse", "TimestampAuthority", "TimestampRejected", "rejection"]

_ALLOWED_IMPRINTS = {"sha256": 32, "sha384": 48, "sha512": 64}


class TimestampRejected(Exception):
    """A request the TSA refuses; ``failure`` is the RFC 3161 ``PKIFailureInfo`` bit name."""

    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure = failure
        self.text = text


@dataclass
class TimestampAuthority:
    """Issues timestamp tokens with one TSA certificate and key.

    Attributes:
        certificate: the TSA certificate (critical EKU timeStamping).
        key: its key handle.
        chain: issuer certificates embedded beside it when the request asks for certificates.
        policy_oid: the TSA policy written into every token.
        accuracy_seconds: accuracy claimed in tokens (0 omits the field).
        digest_algorithm: hash of the token's own signature.
    """

    certificate: asn1_x509.Certificate
    key: KeyHandle
    chain: Sequence[asn1_x509.Certificate] = ()
    policy_oid: str = "2.25.215104470913474018356209616101178113473"
    accuracy_seconds: int = 1
    digest_algorithm: str = "sha256"

    def __post_init__(self) -> None:
        # Encode the constant parts once and reload them from bytes: asn1crypto re-encodes
        # built structures on every dump, which made each token cost ~40 ms.
        self._tsa_name = asn1_x509.GeneralName.load(
            asn1_x509.GeneralName(name="directory_name", value=self.certificate.subject).dump()
        )
        self._sid = cms.SignerIdentifier.load(
            cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=cms.IssuerAndSerialNumber(
                    {
                        "issuer": self.certificate.issuer,
                        "serial_number": self.certificate.serial_number,
                    }
                ),
            ).dump()
        )
        self._signing_certificate = cms.CMSAttribute.load(
            simple_cms_attribute(
                "signing_certificate_v2", as_signing_certificate_v2(self.certificate)
            ).dump()
        )
        self._certificates = cms.CertificateSet.load(
            cms.CertificateSet([self.certificate, *self.chain]).dump()
        )

    def check_request(self, request: tsp.TimeStampReq) -> None:
        """Refuse what RFC 3161 lets a TSA refuse (raises :class:`TimestampRejected`)."""
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if algorithm not in _ALLOWED_IMPRINTS:
            raise TimestampRejected("bad_alg", f"hash algorithm {algorithm} is not accepted")
        if len(imprint["hashed_message"].native) != _ALLOWED_IMPRINTS[algorithm]:
            raise TimestampRejected("bad_data_format", "hashed message has the wrong length")
        policy = request["req_policy"].native
        if policy is not None and policy != self.policy_oid:
            raise TimestampRejected("unaccepted_policy", f"policy {policy} is not offered")

    async def token(
        self, request: tsp.TimeStampReq, *, now: dt.datetime | None = None
    ) -> cms.ContentInfo:
        """Sign a timestamp token for a checked request.

        Raises:
            TimestampRejected: the request is not acceptable.
            hoso.common.errors.Unavailable: the key store is down.
        """
        self.check_request(request)
        gen_time = now or dt.datetime.now(dt.UTC)
        info: dict[str, object] = {
            "version": "v1",
            "policy": self.policy_oid,
            "message_imprint": request["message_imprint"],
            "serial_number": secrets.randbits(127),
            "gen_time": gen_time,
            "tsa": self._tsa_name,
        }
        if self.accuracy_seconds:
            info["accuracy"] = {"seconds": self.accuracy_seconds}
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"]
        tst_info_der = tsp.TSTInfo(info).dump()
        digest_name = self.digest_algorithm
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute(
                    "message_digest", hashlib.new(digest_name, tst_info_der).digest()
                ),
                self._signing_certificate,
            ]
        )
        signature = await self.key.sign(signed_attrs.dump(), digest_algorithm=digest_name)
        digest_algorithm = algos.DigestAlgorithm({"algorithm": digest_name})
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": self._sid,
                "digest_algorithm": digest_algorithm,
                "signature_algorithm": self.key.signature_algorithm(digest_name),
                "signed_attrs": signed_attrs,
                "signature": signature,
            }
        )
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": cms.ParsableOctetString(tst_info_der),
            },
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            signed_data["certificates"] = self._certificates
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})

    async def respond(self, request: tsp.TimeStampReq) -> TimeStampResponse:
        """A ``granted`` response with a token, or a ``rejection`` naming the failure."""
        try:
            token = await self.token(request)
        except TimestampRejected as e:
            return rejection(e.failure, e.text)
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})

    async def respond_der(self, body: bytes) -> bytes:
        """Answer an encoded request (what the HTTP endpoint receives); never raises on input."""
        try:
            request = tsp.TimeStampReq.load(body)
            request.native  # noqa: B018 -- parse everything now, so bad DER is caught here
            if request["version"].native != "v1":
                raise TimestampRejected("bad_request", "only version 1 requests are supported")
        except TimestampRejected as e:
            return rejection(e.failure, e.text).dump()
        except (ValueError, TypeError, KeyError):
            return rejection("bad_data_format", "request is not a DER TimeStampReq").dump()
        return (await self.respond(request)).dump()


class TimeStampResponse(core.Sequence):
    """RFC 3161 ``TimeStampResp`` whose token is OPTIONAL, as the RFC says.

    asn1crypto's ``tsp.TimeStampResp`` requires the token, so it can neither build nor parse a
    rejection. This spec reads and writes both kinds; pyHanko only indexes fields, so it
    accepts it wherever a ``TimeStampResp`` is expected.
    """

    _fields = [  # noqa: RUF012 -- asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def rejection(failure: str, text: str) -> TimeStampResponse:
    """A ``rejection`` response with one failure bit and a human-readable text."""
    return TimeStampResponse(
        {
            "status": {
                "status": "rejection",
                "status_string": [text],
                "fail_info": tsp.PKIFailureInfo({failure}),
            }
        }
    )
