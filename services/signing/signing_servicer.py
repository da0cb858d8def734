"""gRPC ``hoso.signing.v1.SigningService``: PAdES, extension, time-stamps, CAdES, two-phase.

Streams: a header message first, then chunks of at most 1 MiB; signed files come back as one
result message, then chunks. The handlers parse the streams and delegate to
:class:`~hoso.signing.pades.core.SigningCore` (one-shot signing) and
:class:`~hoso.signing.pades.remote.RemoteSigning` (two-phase and batches).
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import grpc
from hoso.common.auth import current_caller
from hoso.common.errors import HosoError, InvalidArgument
from hoso.common.protoconv import to_timestamp
from hoso.common.streaming import header_and_chunks
from hoso.common.telemetry import record_signature
from hoso.signing.pades.archive import check_archive_target
from hoso.signing.pades.cades import sign_detached
from hoso.signing.pades.core import SigningCore, consent_factor, read_file_chunks
from hoso.signing.pades.credentials import credential_id_of
from hoso.signing.pades.extend import extend_signatures
from hoso.signing.pades.inputs import CHUNK_SIZE
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.options import (
    LEVEL_FROM_PROTO,
    LEVEL_TO_PROTO,
    digest_name,
    rename_field,
    sign_request_from_options,
)
from hoso.signing.pades.remote import RemoteSigning
from hoso.signing.pades.requests import fingerprint
from hoso.signing.v1 import signing_pb2 as _pb
from hoso.signing.v1 import trust_pb2 as _trust_pb
from hoso.signing.web.routes import verification_url

__all__ = ["SigningServicer", "registrations"]

_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
_CADES_LEVELS = {
    _pb.CADES_LEVEL_UNSPECIFIED: SignatureLevel.B_T,
    _pb.CADES_LEVEL_B_B: SignatureLevel.B_B,
    _pb.CADES_LEVEL_B_T: SignatureLevel.B_T,
}


async def _stream_file(
    response: type, result_field: str, result: Any, file: IO[bytes] | Path
) -> AsyncIterator[Any]:
    yield response(**{result_field: result})
    if isinstance(file, Path):
        with file.open("rb") as handle:
            async for chunk in read_file_chunks(handle):
                yield response(chunk=chunk)
    else:
        try:
            async for chunk in read_file_chunks(file):
                yield response(chunk=chunk)
        finally:
            file.close()


def _sha256_of(file: IO[bytes]) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    while chunk := file.read(CHUNK_SIZE):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


class SigningServicer:
    """The SigningService RPCs.

    Args:
        core: the shared signing state (started).
    """

    def __init__(self, core: SigningCore) -> None:
        self.core = core
        self.remote = RemoteSigning(core)

    async def close(self) -> None:
        """Nothing to release: files are closed per call."""

    # ---- SignPdf --------------------------------------------------------------------------

    async def SignPdf(
        self, request_iterator: AsyncIterator[_pb.SignPdfRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[_pb.SignPdfResponse]:
        """Sign one streamed PDF and stream it back (see the proto for the errors)."""
        core = self.core
        header, chunks = await header_and_chunks(request_iterator)
        credential_id = credential_id_of(header.credential)
        factor = consent_factor(header.consent, "header.consent")
        request = sign_request_from_options(
            header.options,
            default_level=core.default_level,
            verification_url=_public_page_of(core.verification_url, header),
        )
        if header.HasField("archive"):
            check_archive_target(header.archive, "header.archive")
        core.check_declared_size(header.size_bytes, "header.size_bytes")
        document = await core.receive(chunks, declared_size=header.size_bytes)
        with document:
            request_id = header.request_id
            if request_id:
                key = fingerprint(
                    "SignPdf",
                    document.sha256,
                    credential_id,
                    header.options.SerializeToString(deterministic=True),
                    header.archive.SerializeToString(deterministic=True),
                )
                row = await core.ledger.begin(request_id, "SignPdf", current_caller().name, key)
                if row is not None:
                    result = _pb.SignPdfResult.FromString(row.result)
                    path = core.ledger.open_output(row)
                    result = await self._archive(header, result, path, request_id)
                    async for message in _stream_file(_pb.SignPdfResponse, "result", result, path):
                        yield message
                    return
            output = core.new_output(request_id)
            try:
                await core.prime_revocation(request.level)
                async with core.consented(
                    credential_id, factor, [document.sha256], "header.consent"
                ) as (session, credential):
                    started = time.perf_counter()
                    try:
                        signed = await core.engine.sign(document, credential, request, output)
                    except HosoError as exc:
                        rename_field(exc, "header.options")
                        raise
                    record_signature(signed.level.value, time.perf_counter() - started)
                    result = core.sign_result(signed, credential)
                    await core.audit_signature(
                        session,
                        action="signing.sign_pdf",
                        credential_id=credential_id,
                        document_sha256=signed.document_sha256,
                        signature_sha256=signed.signature_sha256,
                        level=signed.level.value,
                        details={"field": signed.field_name, "filename": header.filename},
                    )
                    if request_id:
                        await core.ledger.complete(
                            session, request_id, result.SerializeToString(), result.sha256
                        )
            except BaseException:
                output.close()
                if request_id:
                    await core.ledger.release(request_id)
                raise
        if request_id:
            output.close()
            path = core.ledger.output_path(request_id)
            result = await self._archive(header, result, path, request_id)
            source: IO[bytes] | Path = path
        else:
            source = output
            if header.HasField("archive"):
                with_path = core.work_dir / f"archive-{result.sha256}.pdf"
                try:
                    with with_path.open("wb") as copy:
                        async for chunk in read_file_chunks(output):
                            copy.write(chunk)
                    result = await self._archive(header, result, with_path, "")
                finally:
                    with_path.unlink(missing_ok=True)
        async for message in _stream_file(_pb.SignPdfResponse, "result", result, source):
            yield message

    async def _archive(self, header: Any, result: Any, path: Path, request_id: str) -> Any:
        """Archive the signed file when the header asks and it is not archived yet."""
        if not header.HasField("archive") or result.archived_file_version:
            return result
        result.archived_file_version = await self.core.archiver.put(
            header.archive,
            path,
            filename=header.filename,
            sha256_hex=result.sha256,
            request_id=request_id,
        )
        if request_id:
            await self.core.ledger.update_result(request_id, result.SerializeToString())
        return result

    # ---- ExtendSignature ------------------------------------------------------------------

    async def ExtendSignature(
        self,
        request_iterator: AsyncIterator[_pb.ExtendSignatureRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[_pb.ExtendSignatureResponse]:
        """Raise every signature of a signed PDF to B-LT or B-LTA."""
        core = self.core
        header, chunks = await header_and_chunks(request_iterator)
        target = LEVEL_FROM_PROTO.get(header.target_level)
        if target is None or not target.needs_validation_data:
            raise InvalidArgument("target_level must be B_LT or B_LTA", field="header.target_level")
        if header.HasField("archive"):
            check_archive_target(header.archive, "header.archive")
        document = await core.receive(chunks)
        with document:
            request_id = header.request_id
            if request_id:
                key = fingerprint(
                    "ExtendSignature",
                    document.sha256,
                    str(header.target_level),
                    header.archive.SerializeToString(deterministic=True),
                )
                row = await core.ledger.begin(
                    request_id, "ExtendSignature", current_caller().name, key
                )
                if row is not None:
                    result = _pb.ExtendSignatureResult.FromString(row.result)
                    path = core.ledger.open_output(row)
                    result = await self._archive(header, result, path, request_id)
                    async for message in _stream_file(
                        _pb.ExtendSignatureResponse, "result", result, path
                    ):
                        yield message
                    return
            output = core.new_output(request_id)
            try:
                try:
                    count = await extend_signatures(core.engine, document, target, output)
                except HosoError as exc:
                    if exc.field == "target_level":
                        exc.field = "header.target_level"
                    elif exc.field == "document":
                        exc.field = "chunk"
                    raise
                sha256 = _sha256_of(output)
                output.seek(0, 2)
                result = _pb.ExtendSignatureResult(
                    level=LEVEL_TO_PROTO[target],  # type: ignore[arg-type]
                    signatures_extended=count,
                    size_bytes=output.tell(),
                    sha256=sha256,
                )
                async with core.runtime.session() as session:
                    await core.runtime.audit(
                        session,
                        action="signing.extend",
                        target=header.filename or "document",
                        digest=document.sha256.hex(),
                        details={"level": target.value, "signatures": count, "output": sha256},
                    )
                    if request_id:
                        await core.ledger.complete(
                            session, request_id, result.SerializeToString(), sha256
                        )
            except BaseException:
                output.close()
                if request_id:
                    await core.ledger.release(request_id)
                raise
        source: IO[bytes] | Path = output
        if request_id:
            output.close()
            kept = core.ledger.output_path(request_id)
            source = kept
            result = await self._archive(header, result, kept, request_id)
        async for message in _stream_file(_pb.ExtendSignatureResponse, "result", result, source):
            yield message

    # ---- Timestamp ------------------------------------------------------------------------

    async def Timestamp(
        self, request: _pb.TimestampRequest, context: grpc.aio.ServicerContext
    ) -> _pb.TimestampResponse:
        """An RFC 3161 token over a digest from our TSA (or the configured fallbacks)."""
        algorithm = digest_name(request.digest.algorithm, "digest.algorithm")
        if len(request.digest.value) != _DIGEST_SIZES[algorithm]:
            raise InvalidArgument(
                f"a {algorithm} digest has {_DIGEST_SIZES[algorithm]} bytes, not "
                f"{len(request.digest.value)}",
                field="digest.value",
            )
        if len(request.nonce) > 32:
            raise InvalidArgument("nonce is at most 32 bytes", field="nonce")
        policy = self.core.settings.tsa_policy_oid
        if request.policy_oid and request.policy_oid != policy:
            raise InvalidArgument(
                f"policy {request.policy_oid} is not accepted; use {policy} or leave it empty",
                field="policy_oid",
            )
        token, gen_time, serial, tsa_serial = await self.core.timestamp(
            algorithm, request.digest.value, request.nonce
        )
        return _pb.TimestampResponse(
            token=token,
            gen_time=to_timestamp(gen_time),
            serial_hex=format(serial, "x"),
            tsa_certificate_serial_hex=format(tsa_serial, "x"),
        )

    # ---- SignDetached ---------------------------------------------------------------------

    async def SignDetached(
        self,
        request_iterator: AsyncIterator[_pb.SignDetachedRequest],
        context: grpc.aio.ServicerContext,
    ) -> _pb.SignDetachedResponse:
        """A CAdES detached signature (B-B or B-T) over any streamed file."""
        core = self.core
        header, chunks = await header_and_chunks(request_iterator)
        credential_id = credential_id_of(header.credential)
        factor = consent_factor(header.consent, "header.consent")
        level = _CADES_LEVELS.get(header.level)
        if level is None:
            raise InvalidArgument("level must be B_B or B_T", field="header.level")
        if digest_name(header.digest_algorithm, "header.digest_algorithm") != "sha256":
            raise InvalidArgument(
                "CAdES detached signatures use SHA-256 here", field="header.digest_algorithm"
            )
        document = await core.receive(chunks)
        with document:
            request_id = header.request_id
            if request_id:
                key = fingerprint("SignDetached", document.sha256, credential_id, str(header.level))
                row = await core.ledger.begin(
                    request_id, "SignDetached", current_caller().name, key
                )
                if row is not None:
                    return _pb.SignDetachedResponse.FromString(row.result)
            try:
                async with core.consented(
                    credential_id, factor, [document.sha256], "header.consent"
                ) as (session, credential):
                    started = time.perf_counter()
                    signed = await sign_detached(core.engine, document, credential, level)
                    record_signature(level.value, time.perf_counter() - started, kind="cades")
                    response = _pb.SignDetachedResponse(
                        cms=signed.cms_der,
                        content_digest=_trust_pb.DocumentDigest(
                            algorithm=_trust_pb.DIGEST_ALGORITHM_SHA256,
                            value=signed.content_sha256,
                            label=header.filename,
                        ),
                        signing_time=to_timestamp(_signing_time(signed.cms_der)),
                        certificate_serial_hex=format(credential.certificate.serial_number, "x"),
                        level=_pb.CADES_LEVEL_B_T
                        if level is SignatureLevel.B_T
                        else _pb.CADES_LEVEL_B_B,
                        signature_digest=signed.signature_sha256.hex(),
                    )
                    await core.audit_signature(
                        session,
                        action="signing.sign_detached",
                        credential_id=credential_id,
                        document_sha256=signed.content_sha256,
                        signature_sha256=signed.signature_sha256,
                        level=f"CAdES-{level.value}",
                        details={"filename": header.filename, "media_type": header.media_type},
                    )
                    if request_id:
                        await core.ledger.complete(
                            session, request_id, response.SerializeToString(), None
                        )
            except BaseException:
                if request_id:
                    await core.ledger.release(request_id)
                raise
        return response

    # ---- two-phase ------------------------------------------------------------------------

    async def PrepareSignature(self, request_iterator: Any, context: Any) -> Any:
        """Phase one of remote signing (see :mod:`hoso.signing.pades.remote`)."""
        return await self.remote.prepare_signature(request_iterator)

    async def CompleteSignature(self, request: Any, context: Any) -> AsyncIterator[Any]:
        """Phase two: embed the signature and stream the signed PDF."""
        async for message in self.remote.complete_signature(request):
            yield message

    async def PrepareBatch(self, request_iterator: Any, context: Any) -> Any:
        """Prepare many documents under one consent."""
        return await self.remote.prepare_batch(request_iterator)

    async def CompleteBatch(self, request: Any, context: Any) -> AsyncIterator[Any]:
        """Complete a prepared batch with one consent; stream each signed document."""
        async for message in self.remote.complete_batch(request):
            yield message


def _public_page_of(form_url: str, header: _pb.SignPdfHeader) -> str:
    """Where a QR code without ``verification_url`` links: this service's public page of the
    archived document (``/verify/{dossier}/{file}``), named by the QR's dossier code and the
    file's name in the dossier (the archive target's, else the header's). Without a file name
    the upload form ``form_url`` is all there is to link to.
    """
    filename = header.archive.filename or header.filename
    dossier_code = header.options.qr_code.dossier_code
    if not (filename and dossier_code):
        return form_url
    base = form_url.removesuffix("/verify")  # SigningCore: public_base_url + "/verify"
    nfc = unicodedata.normalize
    return verification_url(base, nfc("NFC", dossier_code), nfc("NFC", filename))


def _signing_time(cms_der: bytes) -> Any:
    """The time-stamp's genTime (B-T), else the signing-time attribute, else now."""
    import datetime as dt

    from asn1crypto import cms

    signer_info = cms.ContentInfo.load(cms_der)["content"]["signer_infos"][0]
    for attr in signer_info["unsigned_attrs"] or []:
        if attr["type"].native == "signature_time_stamp_token":
            token = attr["values"][0]
            return token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
    for attr in signer_info["signed_attrs"]:
        if attr["type"].native == "signing_time":
            return attr["values"][0].native
    return dt.datetime.now(dt.UTC)


async def registrations(runtime: Any, trust: Any) -> list[Any]:
    """The SigningService registration for ``hoso.signing.service.build``."""
    from hoso.common.server import Registration
    from hoso.signing.v1 import signing_pb2_grpc as _pb_grpc

    core = SigningCore(runtime, trust)
    await core.start()
    return [
        Registration(
            service_name="hoso.signing.v1.SigningService",
            add_to_server=_pb_grpc.add_SigningServiceServicer_to_server,
            servicer=SigningServicer(core),
        )
    ]
