"""Two-phase and batch signing over gRPC, with prepared documents kept in the spool.

``PrepareSignature``/``PrepareBatch`` write each prepared PDF to ``<spool>/prepared/<id>.pdf``
and a ``signing_prepared`` row (expiring after ``prepared_ttl_seconds``); the response names
``preparedSignatures/{id}`` (or ``preparedBatches/{id}``) and the digests to sign. A prepared
signature is visible only to the caller that prepared it. ``CompleteSignature`` takes a raw
signature value, a CMS, or a consent (the server signs with the credential);
``CompleteBatch`` takes one consent bound to every document's digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from asn1crypto import x509
from hoso.common.auth import current_caller
from hoso.common.errors import FailedPrecondition, HosoError, InvalidArgument, NotFound
from hoso.common.protoconv import to_timestamp
from hoso.common.streaming import first_message, header_and_chunks
from hoso.signing.models import SigningPrepared
from hoso.signing.pades.archive import check_archive_target
from hoso.signing.pades.core import SigningCore, consent_factor, read_file_chunks
from hoso.signing.pades.credentials import credential_id_of
from hoso.signing.pades.engine import SignRequest
from hoso.signing.pades.inputs import CHUNK_SIZE, SpooledDocument
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.options import LEVEL_TO_PROTO, rename_field, sign_request_from_options
from hoso.signing.pades.remote_results import (
    archive_completed,
    pack_batch_results,
    read_slices,
    unpack_batch_results,
    write_concatenation,
)
from hoso.signing.pades.requests import fingerprint
from hoso.signing.pades.twophase import (
    Prepared,
    check_cms,
    check_signature_value,
    complete,
    load_certificate,
    prepare,
)
from hoso.signing.v1 import signing_pb2 as _pb
from hoso.signing.v1 import trust_pb2 as _trust_pb
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["RemoteSigning"]

_PREPARED = "PREPARED"
_COMPLETED = "COMPLETED"
_DIGEST_ENUM = {
    "sha256": _trust_pb.DIGEST_ALGORITHM_SHA256,
    "sha384": _trust_pb.DIGEST_ALGORITHM_SHA384,
    "sha512": _trust_pb.DIGEST_ALGORITHM_SHA512,
}
#: Most documents one batch may hold.
MAX_BATCH_DOCUMENTS = 100


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name_to_id(name: str, prefix: str, field: str) -> str:
    value = name.removeprefix(prefix)
    if not value or "/" in value or value == name:
        raise InvalidArgument(f"name it as {prefix}{{id}}", field=field)
    return value


def _prepared_of(row: SigningPrepared) -> Prepared:
    return Prepared(
        field_name=row.field_name,
        document_digest=row.document_digest,
        reserved_start=row.reserved_start,
        reserved_end=row.reserved_end,
        signed_attrs_der=row.signed_attrs_der,
        digest_algorithm=row.digest_algorithm,
        signature_mechanism="",
    )


def _chain_of(row: SigningPrepared) -> list[x509.Certificate]:
    chain: list[x509.Certificate] = []
    data = row.chain_der
    while data:
        cert = x509.Certificate.load(data)
        length = len(cert.dump())
        chain.append(cert)
        data = data[length:]
    return chain


def _without_request_id(header: Any) -> bytes:
    """A header as it identifies a request: everything but its request id."""
    copy = type(header)()
    copy.CopyFrom(header)
    copy.request_id = ""
    return copy.SerializeToString(deterministic=True)


def _completion_digest(request: _pb.CompleteSignatureRequest) -> str:
    """What identifies a completion. A consent's PIN or SAD is left out: a retry with
    another (even a wrong) factor still returns the first result, as SignPdf does."""
    which = request.WhichOneof("completion")
    if which == "signature_value":
        return hashlib.sha256(request.signature_value).hexdigest()
    if which == "cms":
        return hashlib.sha256(request.cms).hexdigest()
    return "consent"


def _copy_range(source: Path, offset: int, size: int, target: Path) -> None:
    with source.open("rb") as reader, target.open("wb") as writer:
        reader.seek(offset)
        left = size
        while left:
            chunk = reader.read(min(CHUNK_SIZE, left))
            if not chunk:
                break
            writer.write(chunk)
            left -= len(chunk)


async def _stream(
    result: _pb.SignPdfResult, path: Path
) -> AsyncIterator[_pb.CompleteSignatureResponse]:
    yield _pb.CompleteSignatureResponse(result=result)
    with path.open("rb") as file:
        async for chunk in read_file_chunks(file):
            yield _pb.CompleteSignatureResponse(chunk=chunk)


@dataclass
class _Signer:
    credential_id: str | None
    certificate: x509.Certificate
    chain: list[x509.Certificate]


class RemoteSigning:
    """Prepared signatures and batches.

    Args:
        core: the shared signing state.
    """

    def __init__(self, core: SigningCore) -> None:
        self.core = core

    def _file(self, prepared_id: str) -> Path:
        return self.core.prepared_dir / f"{prepared_id}.pdf"

    async def _signer_of_credential(self, name: str, field: str) -> _Signer:
        credential_id = credential_id_of(name, field)
        async with self.core.runtime.session() as session:
            row = await self.core.trust.consents.get(session, credential_id)
            material = await self.core.credentials.resolve(session, row)
        return _Signer(credential_id, material.certificate, list(material.chain))

    async def _signer_of(self, header: _pb.PrepareSignatureHeader) -> _Signer:
        which = header.WhichOneof("signer")
        if which == "credential":
            return await self._signer_of_credential(header.credential, "header.credential")
        if which == "signer_certificate":
            certificate = load_certificate(header.signer_certificate, "header.signer_certificate")
            chain = [load_certificate(der, "header.chain") for der in header.chain]
            return _Signer(None, certificate, chain)
        raise InvalidArgument(
            "name a credential or give the external signer's certificate", field="header.signer"
        )

    async def _prepare_one(
        self,
        session: AsyncSession,
        document: SpooledDocument,
        signer: _Signer,
        request: SignRequest,
        *,
        options_path: str,
        batch_id: str | None = None,
        position: int = 0,
        label: str = "",
        archive: bytes = b"",
        filename: str = "",
    ) -> tuple[SigningPrepared, Prepared]:
        prepared_id = f"prep-{secrets.token_hex(12)}"
        path = self._file(prepared_id)
        try:
            with path.open("w+b") as output:
                try:
                    prepared = await prepare(
                        self.core.engine,
                        document,
                        signer.certificate,
                        signer.chain,
                        request,
                        output,
                        validate_signer=signer.credential_id is not None,
                    )
                except HosoError as exc:
                    rename_field(exc, options_path)
                    if exc.field == "header.credential" and signer.credential_id is None:
                        exc.field = "header.signer_certificate"
                    raise
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        now = _now()
        row = SigningPrepared(
            prepared_id=prepared_id,
            batch_id=batch_id,
            batch_position=position,
            document_label=label,
            caller=current_caller().name,
            credential_id=signer.credential_id,
            certificate_der=signer.certificate.dump(),
            chain_der=b"".join(cert.dump() for cert in signer.chain),
            level=request.level.value,
            digest_algorithm=prepared.digest_algorithm,
            field_name=prepared.field_name,
            input_sha256=document.sha256.hex(),
            document_digest=prepared.document_digest,
            signed_attrs_der=prepared.signed_attrs_der,
            reserved_start=prepared.reserved_start,
            reserved_end=prepared.reserved_end,
            archive=archive,
            filename=filename,
            state=_PREPARED,
            expires_at=now + dt.timedelta(seconds=self.core.settings.prepared_ttl_seconds),
            created_at=now,
        )
        session.add(row)
        return row, prepared

    def _request(self, options: _pb.SignatureOptions, path: str) -> SignRequest:
        return sign_request_from_options(
            options,
            default_level=self.core.default_level,
            verification_url=self.core.verification_url,
            path=path,
        )

    # ---- single ---------------------------------------------------------------------------

    async def prepare_signature(self, requests: AsyncIterator[Any]) -> _pb.PrepareSignatureResponse:
        """Spool, prepare and remember one document."""
        header, chunks = await header_and_chunks(requests)
        request = self._request(header.options, "header.options")
        if header.HasField("archive"):
            check_archive_target(header.archive, "header.archive")
        signer = await self._signer_of(header)
        await self._purge_expired()
        document = await self.core.receive(chunks)
        with document:
            request_id = header.request_id
            if request_id:
                key = fingerprint("PrepareSignature", document.sha256, _without_request_id(header))
                done = await self.core.ledger.begin(
                    request_id, "PrepareSignature", current_caller().name, key
                )
                if done is not None:
                    return _pb.PrepareSignatureResponse.FromString(done.result)
            try:
                async with self.core.runtime.session() as session:
                    row, prepared = await self._prepare_one(
                        session,
                        document,
                        signer,
                        request,
                        options_path="header.options",
                        archive=header.archive.SerializeToString()
                        if header.HasField("archive")
                        else b"",
                        filename=header.filename,
                    )
                    response = _pb.PrepareSignatureResponse(
                        prepared_signature=f"preparedSignatures/{row.prepared_id}",
                        digest_to_sign=_trust_pb.DocumentDigest(
                            algorithm=_DIGEST_ENUM[prepared.digest_algorithm],  # type: ignore[arg-type]
                            value=prepared.digest_to_sign,
                            label=header.filename,
                        ),
                        document_digest=prepared.document_digest.hex(),
                        expire_time=to_timestamp(row.expires_at),
                        signature_algorithm=prepared.signature_mechanism,
                    )
                    if request_id:
                        await self.core.ledger.complete(
                            session, request_id, response.SerializeToString(), None
                        )
            except BaseException:
                if request_id:
                    await self.core.ledger.release(request_id)
                raise
        return response

    async def _load(self, session: AsyncSession, prepared_id: str, field: str) -> SigningPrepared:
        row = await session.get(SigningPrepared, prepared_id, with_for_update=True)
        if row is None or row.caller != current_caller().name or row.expires_at <= _now():
            raise NotFound(
                f"no prepared signature {prepared_id} (unknown or expired); prepare it again",
                field=field,
            )
        if row.state != _PREPARED:
            raise FailedPrecondition(
                f"prepared signature {prepared_id} is already completed", field=field
            )
        return row

    async def _finish(
        self,
        session: AsyncSession,
        row: SigningPrepared,
        *,
        signature_value: bytes | None = None,
        cms_der: bytes | None = None,
        field: str,
        output: IO[bytes],
    ) -> _pb.SignPdfResult:
        """Embed the signature of ``row`` into ``output`` and return the result."""
        prepared = _prepared_of(row)
        certificate = x509.Certificate.load(row.certificate_der)
        chain = _chain_of(row)
        level = SignatureLevel.parse(row.level)
        cms_object = None
        if cms_der is not None:
            cms_object = check_cms(prepared, cms_der, field)
            signature_value = cms_object["content"]["signer_infos"][0]["signature"].native
        else:
            assert signature_value is not None
            check_signature_value(certificate, prepared, signature_value, field)
        stamped_at = await complete(
            self.core.engine,
            self._file(row.prepared_id),
            prepared,
            certificate,
            chain,
            level,
            signature_value=None if cms_object is not None else signature_value,
            cms_object=cms_object,
            output=output,
        )
        import hashlib

        digest = hashlib.sha256()
        size = 0
        while chunk := output.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
        output.seek(0)
        signature_sha256 = hashlib.sha256(signature_value or b"").digest()
        row.state = _COMPLETED
        await self.core.audit_signature(
            session,
            action="signing.complete_signature",
            credential_id=row.credential_id or "",
            document_sha256=bytes.fromhex(row.input_sha256),
            signature_sha256=signature_sha256,
            level=level.value,
            details={"field": row.field_name, "prepared": row.prepared_id},
        )
        result = _pb.SignPdfResult(
            signature_digest=signature_sha256.hex(),
            level=LEVEL_TO_PROTO[level],  # type: ignore[arg-type]
            # the time-stamp's genTime at B-T and above; our clock only for B-B
            signing_time=to_timestamp(stamped_at or _now()),
            certificate_serial_hex=format(certificate.serial_number, "x"),
            field_name=row.field_name,
            size_bytes=size,
            sha256=digest.hexdigest(),
            input_sha256=row.input_sha256,
        )
        return result

    async def complete_signature(
        self, request: _pb.CompleteSignatureRequest
    ) -> AsyncIterator[_pb.CompleteSignatureResponse]:
        """Complete one prepared signature, archive it if asked, and stream the signed PDF."""
        prepared_id = _name_to_id(
            request.prepared_signature, "preparedSignatures/", "prepared_signature"
        )
        which = request.WhichOneof("completion")
        if which is None:
            raise InvalidArgument("give signature_value, cms or consent", field="completion")
        request_id = request.request_id
        if request_id:
            key = fingerprint("CompleteSignature", prepared_id, which, _completion_digest(request))
            done = await self.core.ledger.begin(
                request_id, "CompleteSignature", current_caller().name, key, field="request_id"
            )
            if done is not None:
                result = _pb.SignPdfResult.FromString(done.result)
                path = self.core.ledger.open_output(done)
                result = await self._archive_kept(prepared_id, result, path, request_id)
                async for message in _stream(result, path):
                    yield message
                return
        path = (
            self.core.ledger.output_path(request_id)
            if request_id
            else self.core.work_dir / f"signed-{prepared_id}.pdf"
        )
        try:
            try:
                with path.open("w+b") as output:
                    result, row = await self._complete_one(
                        request, prepared_id, which, output, request_id
                    )
            except BaseException:
                if request_id:
                    await self.core.ledger.release(request_id)
                raise
            self._file(prepared_id).unlink(missing_ok=True)
            # the signature is made and recorded; archiving may still fail (UNAVAILABLE) and
            # a retry with the same request_id archives the kept result
            if (
                await archive_completed(
                    self.core.archiver,
                    row.archive,
                    prepared_id=prepared_id,
                    filename=row.filename,
                    result=result,
                    path=path,
                )
                and request_id
            ):
                await self.core.ledger.update_result(request_id, result.SerializeToString())
            async for message in _stream(result, path):
                yield message
        finally:
            if not request_id:
                path.unlink(missing_ok=True)

    async def _complete_one(
        self,
        request: _pb.CompleteSignatureRequest,
        prepared_id: str,
        which: str,
        output: IO[bytes],
        request_id: str,
    ) -> tuple[_pb.SignPdfResult, SigningPrepared]:
        """Sign (or embed the external signature) in one transaction, which also records the
        result under ``request_id``."""
        async with self.core.runtime.session() as peek:
            row = await self._load(peek, prepared_id, "prepared_signature")
            credential_id = row.credential_id
            consent_digest = _prepared_of(row).consent_digest
        if which == "consent":
            if credential_id is None:
                raise InvalidArgument(
                    "this signature was prepared for an external signer; send signature_value "
                    "or cms",
                    field="consent",
                )
            factor = consent_factor(request.consent, "consent")
            await self.core.prime_revocation(SignatureLevel.parse(row.level))
            async with self.core.consented(credential_id, factor, [consent_digest], "consent") as (
                session,
                credential,
            ):
                row = await self._load(session, prepared_id, "prepared_signature")
                value = await credential.key.sign(
                    row.signed_attrs_der, digest_algorithm=row.digest_algorithm
                )
                result = await self._finish(
                    session, row, signature_value=value, field="consent", output=output
                )
                await self._record(session, request_id, result)
        else:
            async with self.core.runtime.session() as session:
                row = await self._load(session, prepared_id, "prepared_signature")
                result = await self._finish(
                    session,
                    row,
                    signature_value=request.signature_value if which == "signature_value" else None,
                    cms_der=request.cms if which == "cms" else None,
                    field=which,
                    output=output,
                )
                await self._record(session, request_id, result)
        return result, row

    async def _record(
        self, session: AsyncSession, request_id: str, result: _pb.SignPdfResult
    ) -> None:
        if request_id:
            await self.core.ledger.complete(
                session, request_id, result.SerializeToString(), result.sha256
            )

    async def _archive_kept(
        self, prepared_id: str, result: _pb.SignPdfResult, path: Path, request_id: str
    ) -> _pb.SignPdfResult:
        """On a replay: archive the kept result if the first call could not."""
        async with self.core.runtime.session() as session:
            row = await session.get(SigningPrepared, prepared_id)
            archive, filename = (row.archive, row.filename) if row is not None else (b"", "")
        if await archive_completed(
            self.core.archiver,
            archive,
            prepared_id=prepared_id,
            filename=filename,
            result=result,
            path=path,
        ):
            await self.core.ledger.update_result(request_id, result.SerializeToString())
        return result

    # ---- batches --------------------------------------------------------------------------

    async def prepare_batch(self, requests: AsyncIterator[Any]) -> _pb.PrepareBatchResponse:
        """Spool and prepare every document of a batch for one credential."""
        header, iterator = await first_message(requests)
        if not 0 < header.document_count <= MAX_BATCH_DOCUMENTS:
            raise InvalidArgument(
                f"document_count must be 1 to {MAX_BATCH_DOCUMENTS}",
                field="header.document_count",
            )
        signer = await self._signer_of_credential(header.credential, "header.credential")
        await self._purge_expired()
        documents: list[tuple[_pb.BatchDocument, SpooledDocument]] = []
        pending = _BatchSpool(self.core)
        try:
            # Chunks of one document are spooled as they come; a document message closes
            # the previous one.
            async for message in iterator:
                kind = message.WhichOneof("payload")
                if kind == "document":
                    if not message.document.document_id:
                        raise InvalidArgument("document_id is empty", field="document.document_id")
                    if any(d.document_id == message.document.document_id for d, _ in documents) or (
                        pending.meta is not None
                        and pending.meta.document_id == message.document.document_id
                    ):
                        raise InvalidArgument(
                            f"document_id {message.document.document_id!r} is repeated",
                            field="document.document_id",
                        )
                    if pending.meta is not None:
                        documents.append(pending.finish())
                    pending.start(message.document)
                elif kind == "chunk":
                    if pending.meta is None:
                        raise InvalidArgument(
                            "a chunk arrived before any document message", field="chunk"
                        )
                    if len(message.chunk) > CHUNK_SIZE:
                        raise InvalidArgument("send at most 1 MiB per chunk", field="chunk")
                    pending.write(message.chunk)
                else:
                    raise InvalidArgument("only one header per batch", field="header")
            if pending.meta is not None:
                documents.append(pending.finish())
            if len(documents) != header.document_count:
                raise InvalidArgument(
                    f"document_count says {header.document_count} but {len(documents)} "
                    "documents arrived",
                    field="header.document_count",
                )
            request_id = header.request_id
            if request_id:
                key = fingerprint(
                    "PrepareBatch",
                    _without_request_id(header),
                    *(
                        part
                        for meta, document in documents
                        for part in (meta.SerializeToString(deterministic=True), document.sha256)
                    ),
                )
                done = await self.core.ledger.begin(
                    request_id, "PrepareBatch", current_caller().name, key
                )
                if done is not None:
                    return _pb.PrepareBatchResponse.FromString(done.result)
            try:
                response = await self._prepare_documents(header, signer, documents)
            except BaseException:
                if request_id:
                    await self.core.ledger.release(request_id)
                raise
        finally:
            pending.close()
            for _, document in documents:
                document.file.close()
        return response

    async def _prepare_documents(
        self,
        header: _pb.PrepareBatchHeader,
        signer: _Signer,
        documents: list[tuple[_pb.BatchDocument, SpooledDocument]],
    ) -> _pb.PrepareBatchResponse:
        """Prepare every spooled document of a batch in one transaction (which records the
        response under the header's request id)."""
        batch_id = f"batch-{secrets.token_hex(12)}"
        entries: list[_pb.PreparedDocument] = []
        expires = _now()
        async with self.core.runtime.session() as session:
            for position, (meta, document) in enumerate(documents):
                options = meta.options if meta.HasField("options") else header.options
                path = "document.options" if meta.HasField("options") else "header.options"
                request = self._request(options, path)
                if meta.HasField("archive"):
                    check_archive_target(meta.archive, "document.archive")
                row, prepared = await self._prepare_one(
                    session,
                    document,
                    signer,
                    request,
                    options_path=path,
                    batch_id=batch_id,
                    position=position,
                    label=meta.document_id,
                    archive=meta.archive.SerializeToString() if meta.HasField("archive") else b"",
                    filename=meta.document_id,
                )
                expires = row.expires_at
                entries.append(
                    _pb.PreparedDocument(
                        document_id=meta.document_id,
                        prepared_signature=f"preparedSignatures/{row.prepared_id}",
                        digest_to_sign=_trust_pb.DocumentDigest(
                            algorithm=_DIGEST_ENUM[prepared.digest_algorithm],  # type: ignore[arg-type]
                            value=prepared.digest_to_sign,
                            label=meta.document_id,
                        ),
                    )
                )
            response = _pb.PrepareBatchResponse(
                prepared_batch=f"preparedBatches/{batch_id}",
                documents=entries,
                expire_time=to_timestamp(expires),
            )
            if header.request_id:
                await self.core.ledger.complete(
                    session, header.request_id, response.SerializeToString(), None
                )
        return response

    async def complete_batch(
        self, request: _pb.CompleteBatchRequest
    ) -> AsyncIterator[_pb.CompleteBatchResponse]:
        """Sign every prepared document of a batch under one consent, archive those that
        asked for it, and stream each signed document."""
        batch_id = _name_to_id(request.prepared_batch, "preparedBatches/", "prepared_batch")
        factor = consent_factor(request.consent, "consent")
        request_id = request.request_id
        if request_id:
            done = await self.core.ledger.begin(
                request_id,
                "CompleteBatch",
                current_caller().name,
                fingerprint("CompleteBatch", batch_id),
                field="request_id",
            )
            if done is not None:
                async for message in self._replay_batch(batch_id, request_id, done):
                    yield message
                return
        try:
            rows, results, outputs = await self._sign_batch(batch_id, factor, request_id)
        except BaseException:
            if request_id:
                await self.core.ledger.release(request_id)
            raise
        try:
            for row in rows:
                self._file(row.prepared_id).unlink(missing_ok=True)
            changed = False
            for row, result, output in zip(rows, results, outputs, strict=True):
                changed |= await archive_completed(
                    self.core.archiver,
                    row.archive,
                    prepared_id=row.prepared_id,
                    filename=row.filename,
                    result=result.result,
                    path=Path(output.name),
                )
            if changed and request_id:
                await self.core.ledger.update_result(request_id, pack_batch_results(results))
            for result, output in zip(results, outputs, strict=True):
                yield _pb.CompleteBatchResponse(document_result=result)
                async for chunk in read_file_chunks(output):
                    yield _pb.CompleteBatchResponse(chunk=chunk)
        finally:
            for output in outputs:
                output.close()
                Path(output.name).unlink(missing_ok=True)

    async def _sign_batch(
        self, batch_id: str, factor: str, request_id: str
    ) -> tuple[list[SigningPrepared], list[_pb.BatchDocumentResult], list[IO[bytes]]]:
        """Sign the batch in the consent's transaction, which also records the results (and
        the signed documents, one after another) under ``request_id``."""
        async with self.core.runtime.session() as peek:
            rows = await self._batch_rows(peek, batch_id)
            credential_id = rows[0].credential_id
            digests = [_prepared_of(row).consent_digest for row in rows]
        assert credential_id is not None
        for level in {row.level for row in rows}:
            await self.core.prime_revocation(SignatureLevel.parse(level))
        results: list[_pb.BatchDocumentResult] = []
        outputs: list[IO[bytes]] = []
        try:
            async with self.core.consented(credential_id, factor, digests, "consent") as (
                session,
                credential,
            ):
                rows = await self._batch_rows(session, batch_id)
                for row in rows:
                    value = await credential.key.sign(
                        row.signed_attrs_der, digest_algorithm=row.digest_algorithm
                    )
                    output = (self.core.work_dir / f"signed-{row.prepared_id}.pdf").open("w+b")
                    outputs.append(output)
                    result = await self._finish(
                        session, row, signature_value=value, field="consent", output=output
                    )
                    results.append(
                        _pb.BatchDocumentResult(document_id=row.document_label, result=result)
                    )
                if request_id:
                    kept = self.core.ledger.output_path(request_id)
                    sha256 = write_concatenation(outputs, kept)
                    await self.core.ledger.complete(
                        session, request_id, pack_batch_results(results), sha256
                    )
        except BaseException:
            for output in outputs:
                output.close()
                Path(output.name).unlink(missing_ok=True)
            raise
        return rows, results, outputs

    async def _replay_batch(
        self, batch_id: str, request_id: str, done: Any
    ) -> AsyncIterator[_pb.CompleteBatchResponse]:
        """The first CompleteBatch's documents again (archiving any the first call could not)."""
        results = unpack_batch_results(done.result)
        path = self.core.ledger.open_output(done)
        async with self.core.runtime.session() as session:
            rows = list(
                (
                    await session.execute(
                        select(SigningPrepared)
                        .where(SigningPrepared.batch_id == batch_id)
                        .order_by(SigningPrepared.batch_position)
                    )
                ).scalars()
            )
        if len(rows) == len(results):
            changed = False
            offset = 0
            for row, result in zip(rows, results, strict=True):
                if row.archive and not result.result.archived_file_version:
                    part = self.core.work_dir / f"replay-{row.prepared_id}.pdf"
                    try:
                        _copy_range(path, offset, result.result.size_bytes, part)
                        changed |= await archive_completed(
                            self.core.archiver,
                            row.archive,
                            prepared_id=row.prepared_id,
                            filename=row.filename,
                            result=result.result,
                            path=part,
                        )
                    finally:
                        part.unlink(missing_ok=True)
                offset += result.result.size_bytes
            if changed:
                await self.core.ledger.update_result(request_id, pack_batch_results(results))
        current = -1
        async for index, chunk in read_slices(path, [r.result.size_bytes for r in results]):
            if index != current:
                current = index
                yield _pb.CompleteBatchResponse(document_result=results[index])
            yield _pb.CompleteBatchResponse(chunk=chunk)

    async def _batch_rows(self, session: AsyncSession, batch_id: str) -> list[SigningPrepared]:
        rows = list(
            (
                await session.execute(
                    select(SigningPrepared)
                    .where(SigningPrepared.batch_id == batch_id)
                    .order_by(SigningPrepared.batch_position)
                )
            ).scalars()
        )
        if not rows or rows[0].caller != current_caller().name or rows[0].expires_at <= _now():
            raise NotFound(
                f"no prepared batch {batch_id} (unknown or expired); prepare it again",
                field="prepared_batch",
            )
        if any(row.state != _PREPARED for row in rows):
            raise FailedPrecondition(
                f"prepared batch {batch_id} is already completed", field="prepared_batch"
            )
        return rows

    async def _purge_expired(self) -> None:
        """Forget prepared documents past their expiry (rows and spool files)."""
        now = _now()
        async with self.core.runtime.session() as session:
            expired = list(
                (
                    await session.execute(
                        select(SigningPrepared.prepared_id).where(SigningPrepared.expires_at < now)
                    )
                ).scalars()
            )
            if expired:
                await session.execute(
                    delete(SigningPrepared).where(SigningPrepared.prepared_id.in_(expired))
                )
        for prepared_id in expired:
            self._file(prepared_id).unlink(missing_ok=True)


class _BatchSpool:
    """Spools the chunks of the current batch document as they arrive."""

    def __init__(self, core: SigningCore) -> None:
        self._core = core
        self.meta: _pb.BatchDocument | None = None
        self._file: Any = None
        self._size = 0
        self._digest: Any = None

    def start(self, meta: _pb.BatchDocument) -> None:
        import hashlib
        import tempfile

        self.meta = meta
        self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - handed to the caller
            max_size=4 * 1024 * 1024, dir=self._core.work_dir
        )
        self._size = 0
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        from hoso.common.errors import ResourceExhausted

        self._size += len(chunk)
        if self._size > self._core.settings.max_document_bytes:
            self._file.close()
            raise ResourceExhausted(
                f"document {self.meta.document_id if self.meta else ''!r} exceeds the limit of "
                f"{self._core.settings.max_document_bytes} bytes"
            )
        self._digest.update(chunk)
        self._file.write(chunk)

    def close(self) -> None:
        """Discard a document still being received (the batch failed)."""
        if self.meta is not None and self._file is not None:
            self._file.close()
        self.meta = None

    def finish(self) -> tuple[_pb.BatchDocument, SpooledDocument]:
        assert self.meta is not None
        meta, file = self.meta, self._file
        self.meta = None
        if self._size == 0:
            file.close()
            raise InvalidArgument(f"document {meta.document_id!r} is empty", field="chunk")
        file.seek(0)
        return meta, SpooledDocument(file=file, size=self._size, sha256=self._digest.digest())
