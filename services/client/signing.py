"""Small typed clients for signing, verification and the trust services (``hoso.signing.v1``).

PDFs stream in and out in chunks through :mod:`hoso.client.streams`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import grpc
from hoso.client.streams import Source, chunks_of, drain, drain_to_file, header_then_chunks
from hoso.signing.v1 import signing_pb2 as _sign_pb
from hoso.signing.v1 import signing_pb2_grpc as _sign_grpc
from hoso.signing.v1 import trust_pb2 as _trust_pb
from hoso.signing.v1 import trust_pb2_grpc as _trust_grpc
from hoso.signing.v1 import verification_pb2 as _verify_pb
from hoso.signing.v1 import verification_pb2_grpc as _verify_grpc

__all__ = ["SigningClient", "TrustClient", "VerificationClient", "sha256_of"]

Progress = Callable[[int], None]


def sha256_of(source: Source) -> bytes:
    """SHA-256 of ``source`` read in chunks (a file object is rewound to where it was)."""
    digest = hashlib.sha256()
    start = None if isinstance(source, bytes | Path) else source.tell()
    for piece in chunks_of(source):
        digest.update(piece)
    if start is not None and not isinstance(source, bytes | Path):
        source.seek(start)
    return digest.digest()


class SigningClient:
    """PAdES signing, extension to B-LT/B-LTA, and timestamps."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        """Wrap ``channel``."""
        self._stub = _sign_grpc.SigningServiceStub(channel)

    async def sign_pdf(
        self,
        header: _sign_pb.SignPdfHeader,
        source: Source,
        *,
        progress: Progress | None = None,
        timeout: float | None = None,
    ) -> tuple[_sign_pb.SignPdfResult, bytes]:
        """Sign the PDF in ``source``; return the result and the signed bytes.

        A request id is added to ``header`` when it has none (reuse the header to retry).
        """
        if not header.request_id:
            header.request_id = str(uuid.uuid4())
        requests = header_then_chunks(
            _sign_pb.SignPdfRequest, "header", header, source, progress=progress
        )
        result, data = await drain(self._stub.SignPdf(requests, timeout=timeout), "result")
        return result, data

    async def sign_pdf_to(
        self,
        header: _sign_pb.SignPdfHeader,
        source: Source,
        destination: IO[bytes],
        *,
        progress: Progress | None = None,
        timeout: float | None = None,
    ) -> _sign_pb.SignPdfResult:
        """Sign ``source`` and stream the signed PDF into ``destination``."""
        if not header.request_id:
            header.request_id = str(uuid.uuid4())
        requests = header_then_chunks(_sign_pb.SignPdfRequest, "header", header, source)
        return await drain_to_file(
            self._stub.SignPdf(requests, timeout=timeout), "result", destination, progress=progress
        )

    async def extend_signature(
        self,
        source: Source,
        target_level: _sign_pb.PadesLevel.ValueType,
        *,
        filename: str = "",
        archive: _sign_pb.ArchiveTarget | None = None,
        request_id: str | None = None,
    ) -> tuple[_sign_pb.ExtendSignatureResult, bytes]:
        """Raise the signatures of a signed PDF to B-LT or B-LTA."""
        header = _sign_pb.ExtendSignatureHeader(
            target_level=target_level,
            filename=filename,
            archive=archive,
            request_id=request_id or str(uuid.uuid4()),
        )
        requests = header_then_chunks(_sign_pb.ExtendSignatureRequest, "header", header, source)
        result, data = await drain(self._stub.ExtendSignature(requests), "result")
        return result, data

    async def timestamp(self, digest: bytes, *, nonce: bytes = b"") -> _sign_pb.TimestampResponse:
        """An RFC 3161 token over a SHA-256 ``digest``."""
        request = _sign_pb.TimestampRequest(
            digest=_trust_pb.DocumentDigest(
                algorithm=_trust_pb.DIGEST_ALGORITHM_SHA256, value=digest
            ),
            nonce=nonce,
        )
        return await self._stub.Timestamp(request)


class VerificationClient:
    """Verification reports for signed PDFs."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        """Wrap ``channel``."""
        self._stub = _verify_grpc.VerificationServiceStub(channel)

    async def verify_pdf(
        self,
        source: Source,
        *,
        filename: str = "",
        language: _verify_pb.ReportLanguage.ValueType = _verify_pb.REPORT_LANGUAGE_VI,
        trust_profile: str = "",
        allow_online_fetch: bool = False,
        timeout: float | None = None,
    ) -> _verify_pb.VerificationReport:
        """The verification report of the PDF in ``source``."""
        header = _verify_pb.VerifyPdfHeader(
            trust_profile=trust_profile,
            language=language,
            allow_online_fetch=allow_online_fetch,
            filename=filename,
        )
        requests = header_then_chunks(_verify_pb.VerifyPdfRequest, "header", header, source)
        response = await self._stub.VerifyPdf(requests, timeout=timeout)
        return response.report


class TrustClient:
    """The certificate authority and signer credentials, as far as a client needs them."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        """Wrap ``channel``."""
        self._stub = _trust_grpc.TrustServiceStub(channel)

    async def certificate_authority(self) -> _trust_pb.GetCertificateAuthorityResponse:
        """The root and issuing CA with their URLs."""
        return await self._stub.GetCertificateAuthority(_trust_pb.GetCertificateAuthorityRequest())

    async def issue_certificate(
        self,
        subject: _trust_pb.DistinguishedName,
        profile: _trust_pb.CertificateProfile.ValueType,
        *,
        key_algorithm: _trust_pb.KeyAlgorithm.ValueType = _trust_pb.KEY_ALGORITHM_EC_P256,
        validity_days: int = 0,
        request_id: str | None = None,
    ) -> _trust_pb.Certificate:
        """Issue a certificate whose key is generated in the server's key store."""
        request = _trust_pb.IssueCertificateRequest(
            generated_key=_trust_pb.GeneratedKeySpec(key_algorithm=key_algorithm),
            profile=profile,
            subject=subject,
            validity_days=validity_days,
            request_id=request_id or str(uuid.uuid4()),
        )
        return (await self._stub.IssueCertificate(request)).certificate

    async def list_certificates(
        self,
        *,
        profile: _trust_pb.CertificateProfile.ValueType = _trust_pb.CERTIFICATE_PROFILE_UNSPECIFIED,
        state: _trust_pb.CertificateState.ValueType = _trust_pb.CERTIFICATE_STATE_UNSPECIFIED,
        subject_contains: str = "",
    ) -> list[_trust_pb.Certificate]:
        """Every certificate matching the filters (all pages), newest first."""
        request = _trust_pb.ListCertificatesRequest(
            profile=profile, state=state, subject_contains=subject_contains, page_size=500
        )
        out: list[_trust_pb.Certificate] = []
        while True:
            response = await self._stub.ListCertificates(request)
            out.extend(response.certificates)
            if not response.next_page_token:
                return out
            request.page_token = response.next_page_token

    async def create_credential(
        self,
        certificate: str,
        owner: str,
        pin: str,
        *,
        credential_id: str = "",
        description: str = "",
        request_id: str | None = None,
    ) -> _trust_pb.Credential:
        """Bind ``certificate`` (``certificates/{serial}``) to ``owner`` behind ``pin``."""
        request = _trust_pb.CreateCredentialRequest(
            credential_id=credential_id,
            certificate=certificate,
            owner=owner,
            description=description,
            pin=pin,
            request_id=request_id or str(uuid.uuid4()),
        )
        return (await self._stub.CreateCredential(request)).credential

    async def authorize(
        self, credential: str, pin: str, digests: Sequence[bytes], *, label: str = ""
    ) -> _trust_pb.AuthorizeCredentialResponse:
        """A single-use SAD for ``credential`` bound to SHA-256 ``digests``."""
        request = _trust_pb.AuthorizeCredentialRequest(
            name=credential,
            pin=pin,
            digests=[
                _trust_pb.DocumentDigest(
                    algorithm=_trust_pb.DIGEST_ALGORITHM_SHA256, value=d, label=label
                )
                for d in digests
            ],
        )
        return await self._stub.AuthorizeCredential(request)
