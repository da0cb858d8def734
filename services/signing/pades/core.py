"""The signing service's long-lived state: engine, credentials, consent, ledger, spool.

One :class:`SigningCore` per process, built from the trust components in ``build()``; the
gRPC servicer (``hoso.signing.signing_servicer``) and the two-phase catalog
(:mod:`.remote`) use it. Nothing here parses gRPC streams.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from asn1crypto import tsp
from hoso.common.errors import HosoError, InvalidArgument, ResourceExhausted
from hoso.common.protoconv import to_timestamp
from hoso.signing.pades.archive import Archiver
from hoso.signing.pades.credentials import CredentialCache
from hoso.signing.pades.engine import PadesEngine, SignResult
from hoso.signing.pades.environment import TrustEnvironment
from hoso.signing.pades.inputs import CHUNK_SIZE, SpooledDocument, spool
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.options import LEVEL_TO_PROTO
from hoso.signing.pades.requests import RequestLedger
from hoso.signing.pades.signer import SigningCredential
from hoso.signing.pades.timestamping import http_timestamper
from hoso.signing.trust.authority import to_asn1
from hoso.signing.trust.inprocess import InProcessTimeStamper
from hoso.signing.v1 import signing_pb2 as _pb
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from hoso.common.runtime import Runtime
    from hoso.signing.service import TrustComponents

__all__ = ["SigningCore", "consent_factor", "read_file_chunks"]


def consent_factor(consent: _pb.Consent, field: str) -> str:
    """The PIN or SAD of a ``Consent``.

    Raises:
        InvalidArgument: neither is set (or it is empty).
    """
    which = consent.WhichOneof("factor")
    value = getattr(consent, which) if which else ""
    if not value:
        raise InvalidArgument(
            "consent needs the credential's pin or a sad from AuthorizeCredential", field=field
        )
    return str(value)


async def read_file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    """The file from its start in chunks of at most 1 MiB."""
    file.seek(0)
    while chunk := file.read(CHUNK_SIZE):
        yield chunk


class SigningCore:
    """What every signing RPC shares.

    Args:
        runtime: the process runtime (sessions, audit, loopback channel).
        trust: the trust components (key store, trust services, consent, revocation).
    """

    def __init__(self, runtime: Runtime, trust: TrustComponents) -> None:
        self.runtime = runtime
        self.trust = trust
        self.settings = trust.settings
        self.spool_dir = Path(self.settings.spool_dir or runtime.data_dir / "signing")
        self.work_dir = self.spool_dir / "work"
        self.prepared_dir = self.spool_dir / "prepared"
        for directory in (self.work_dir, self.prepared_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.ledger = RequestLedger(
            runtime.session,
            self.spool_dir / "results",
            dt.timedelta(hours=self.settings.request_retention_hours),
        )
        self.default_level = SignatureLevel.parse(self.settings.default_level)
        self.archiver = Archiver(runtime.loopback_channel)
        self.verification_url = runtime.settings.server.public_base_url.rstrip("/") + "/verify"
        self._engine: PadesEngine | None = None
        self._credentials: CredentialCache | None = None

    async def start(self) -> None:
        """Load the authority and build the engine (cheap after the first start)."""
        authority = await self.trust.services.authority()
        root = to_asn1(authority.root.certificate)
        issuing = to_asn1(authority.issuing.certificate)
        stampers: list[Any] = []
        if self.settings.tsa_in_process:
            stampers.append(InProcessTimeStamper(self.trust.services))
        stampers.extend(
            http_timestamper(url, self.settings.tsa_timeout_seconds)
            for url in self.settings.tsa_urls
        )
        env = TrustEnvironment(
            trust_roots=(root,),
            other_certs=(issuing,),
            timestampers=tuple(stampers),
            revocation=_CatalogRevocation(self.trust),
        )
        self._engine = PadesEngine(env)
        await self.prime_revocation(SignatureLevel.B_LT)
        self._credentials = CredentialCache(self.trust.keystore, (issuing, root))

    @property
    def engine(self) -> PadesEngine:
        assert self._engine is not None, "SigningCore.start() was not awaited"
        return self._engine

    @property
    def credentials(self) -> CredentialCache:
        assert self._credentials is not None, "SigningCore.start() was not awaited"
        return self._credentials

    async def prime_revocation(self, level: SignatureLevel) -> None:
        """Publish stale CRLs now, outside any signing transaction.

        Producing validation data may publish a fresh CRL (a write); on SQLite a write from
        inside a transaction that already consumed a consent would wait for itself. Calling
        this just before such a transaction leaves nothing to publish inside it.
        """
        if level.needs_validation_data:
            await self.trust.services.current_crl()
            await self.trust.services.current_crl(root=True)

    # ---- inputs ---------------------------------------------------------------------------

    def check_declared_size(self, size: int, field: str) -> None:
        """Early RESOURCE_EXHAUSTED when the header announces too large a document."""
        if size < 0:
            raise InvalidArgument("size_bytes must not be negative", field=field)
        if size > self.settings.max_document_bytes:
            raise ResourceExhausted(
                f"the document ({size} bytes) exceeds the limit of "
                f"{self.settings.max_document_bytes} bytes; split it or ask an operator to "
                "raise signing.max_document_bytes"
            )

    async def receive(
        self, chunks: AsyncIterable[bytes], *, declared_size: int = 0
    ) -> SpooledDocument:
        """Spool a streamed document (size limit enforced while receiving)."""
        document = await spool(
            chunks, max_bytes=self.settings.max_document_bytes, spool_dir=self.work_dir
        )
        if declared_size and declared_size != document.size:
            document.file.close()
            raise InvalidArgument(
                f"size_bytes says {declared_size} but {document.size} bytes arrived",
                field="header.size_bytes",
            )
        return document

    def new_output(self, request_id: str) -> IO[bytes]:
        """Where a signed document is written: the kept result file, or a temporary one."""
        if request_id:
            return self.ledger.output_path(request_id).open("w+b")
        return tempfile.TemporaryFile(dir=self.work_dir)

    @asynccontextmanager
    async def consented(
        self, credential_id: str, factor: str, digests: list[bytes], field: str
    ) -> AsyncIterator[tuple[AsyncSession, SigningCredential]]:
        """A transaction in which the signer consented to ``digests`` with ``credential_id``.

        The consent is consumed first in the transaction (as the trust services require) and
        is restored if anything inside fails, because the whole transaction rolls back.
        """
        async with self.runtime.session() as session:
            try:
                row = await self.trust.consents.consume_consent(
                    session, credential_id, factor, digests
                )
            except HosoError as exc:
                if exc.field in ("credential_id", None) and exc.code.name == "NOT_FOUND":
                    exc.field = "header.credential"
                raise
            credential = await self.credentials.resolve(session, row)
            yield session, credential

    # ---- results --------------------------------------------------------------------------

    def sign_result(
        self,
        result: SignResult,
        credential: SigningCredential,
        *,
        signing_time: dt.datetime | None = None,
    ) -> _pb.SignPdfResult:
        """The ``SignPdfResult`` message of a signature."""
        return _pb.SignPdfResult(
            signature_digest=result.signature_sha256.hex(),
            level=LEVEL_TO_PROTO[result.level],  # type: ignore[arg-type]
            signing_time=to_timestamp(signing_time or result.signing_time),
            certificate_serial_hex=format(credential.certificate.serial_number, "x"),
            field_name=result.field_name,
            size_bytes=result.output_size,
            sha256=result.output_sha256.hex(),
            input_sha256=result.document_sha256.hex(),
        )

    async def audit_signature(
        self,
        session: AsyncSession,
        *,
        action: str,
        credential_id: str,
        document_sha256: bytes,
        signature_sha256: bytes,
        level: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        """The audit event of one signature (the caller comes from the request context)."""
        await self.runtime.audit(
            session,
            action=action,
            target=f"credentials/{credential_id}" if credential_id else "external-signer",
            digest=document_sha256.hex(),
            details={
                "credential": credential_id,
                "document_sha256": document_sha256.hex(),
                "signature_sha256": signature_sha256.hex(),
                "level": level,
                **(details or {}),
            },
        )

    # ---- time-stamps ----------------------------------------------------------------------

    async def timestamp(
        self, digest_algorithm: str, digest: bytes, nonce: bytes
    ) -> tuple[bytes, dt.datetime, int, int]:
        """An RFC 3161 token: ``(token_der, gen_time, serial, tsa_certificate_serial)``."""
        request: dict[str, Any] = {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": digest_algorithm},
                "hashed_message": digest,
            },
            "cert_req": True,
        }
        if nonce:
            request["nonce"] = int.from_bytes(nonce, "big")
        response = await self.engine.timestamper.async_request_tsa_response(
            tsp.TimeStampReq(request)
        )
        token = response["time_stamp_token"]
        info = token["content"]["encap_content_info"]["content"].parsed
        signer_id = token["content"]["signer_infos"][0]["sid"]
        tsa_serial = (
            signer_id.chosen["serial_number"].native
            if signer_id.name == "issuer_and_serial_number"
            else 0
        )
        return (
            token.dump(),
            info["gen_time"].native,
            info["serial_number"].native,
            tsa_serial,
        )


class _CatalogRevocation:
    """Our trust services as the engine's revocation source.

    Validation data comes from the in-process OCSP responder and CRLs; the signer's own
    status is read from the catalog (no OCSP response is signed just to check it).
    """

    def __init__(self, trust: TrustComponents) -> None:
        self._trust = trust

    async def revocation_data(self, cert: Any) -> tuple[list[bytes], list[bytes]]:
        return await self._trust.revocation.revocation_data(cert)

    async def revocation_status(self, cert: Any) -> str | None:
        authority = await self._trust.services.authority()
        issuing = to_asn1(authority.issuing.certificate)
        if cert.issuer != issuing.subject:
            return None  # not ours: an external signer's CA answers for it
        status = await self._trust.services.status(cert.serial_number)
        if status.status.name.lower() == "revoked":
            return status.reason or "revoked"
        return None
