"""Idempotent signing requests: a repeated ``request_id`` returns the first result.

:meth:`RequestLedger.begin` claims the id with a PENDING row committed on its own, so two
concurrent calls with one id cannot both sign (the second gets ``ABORTED``: retry). The row
becomes DONE in the signing transaction, together with the audit event, and keeps the
serialised result message and the signed output (a file in the results directory, checked
against its SHA-256 on replay). A failed attempt releases the id so that a retry signs.
Rows and files are purged after ``request_retention_hours``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from hoso.common.errors import Aborted, FailedPrecondition, PermissionDenied
from hoso.signing.models import SigningRequest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["RequestLedger", "fingerprint"]

_log = logging.getLogger(__name__)
_PENDING = "PENDING"
_DONE = "DONE"
#: A PENDING claim older than this belongs to a crashed attempt and may be taken over.
_PENDING_LIFETIME = dt.timedelta(minutes=10)

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def fingerprint(*parts: bytes | str) -> str:
    """SHA-256 over length-prefixed parts: what makes two requests "the same"."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RequestLedger:
    """The ``signing_requests`` table and the kept outputs.

    Args:
        sessions: opens a session in a transaction.
        results_dir: where signed outputs of idempotent requests are kept.
        retention: how long a request id is remembered.
    """

    def __init__(
        self, sessions: SessionFactory, results_dir: Path, retention: dt.timedelta
    ) -> None:
        self._sessions = sessions
        self.results_dir = results_dir
        self._retention = retention
        results_dir.mkdir(parents=True, exist_ok=True)
        self._last_purge = _now() - retention

    def output_path(self, request_id: str) -> Path:
        """Where the output of ``request_id`` is kept (a name derived by hashing)."""
        return self.results_dir / f"{hashlib.sha256(request_id.encode()).hexdigest()}.out"

    async def begin(
        self,
        request_id: str,
        method: str,
        caller: str,
        request_fingerprint: str,
        *,
        field: str = "header.request_id",
    ) -> SigningRequest | None:
        """Claim ``request_id``; return the finished row when this is a repeat.

        ``field`` names the request id in errors (where it sits in the request).

        Raises:
            Aborted: the first call with this id is still running (retry shortly).
            FailedPrecondition: the id was used for a different request or method.
            PermissionDenied: the id belongs to another caller.
        """
        await self._maybe_purge()
        now = _now()
        async with self._sessions() as session:
            row = await session.get(SigningRequest, request_id)
            if row is not None:
                if row.caller != caller:
                    raise PermissionDenied(
                        "this request_id belongs to another caller; use a fresh UUID",
                        field=field,
                    )
                if row.method != method or row.fingerprint != request_fingerprint:
                    raise FailedPrecondition(
                        f"request_id was already used for a different {row.method} request; "
                        "use a fresh UUID for a new request",
                        field=field,
                    )
                if row.state == _DONE:
                    return row
                if now - row.created_at < _PENDING_LIFETIME:
                    raise Aborted(
                        "a request with this request_id is still being processed; retry shortly"
                    )
                await session.delete(row)  # a crashed attempt's claim
                await session.flush()
        try:
            async with self._sessions() as session:
                session.add(
                    SigningRequest(
                        request_id=request_id,
                        method=method,
                        caller=caller,
                        fingerprint=request_fingerprint,
                        state=_PENDING,
                        result=b"",
                        output_path=None,
                        output_sha256=None,
                        expires_at=now + self._retention,
                        created_at=now,
                    )
                )
        except IntegrityError as exc:
            raise Aborted(
                "a request with this request_id is being processed; retry shortly"
            ) from exc
        return None

    async def complete(
        self,
        session: AsyncSession,
        request_id: str,
        result: bytes,
        output_sha256: str | None,
    ) -> None:
        """Mark the claim DONE in ``session`` (the signing transaction)."""
        row = await session.get(SigningRequest, request_id)
        if row is None:  # purged meanwhile: record it again
            raise Aborted("the request's claim vanished; retry")
        row.state = _DONE
        row.result = result
        row.output_path = self.output_path(request_id).name if output_sha256 else None
        row.output_sha256 = output_sha256
        await session.flush()

    async def update_result(self, request_id: str, result: bytes) -> None:
        """Replace the stored result (e.g. once the output is archived)."""
        async with self._sessions() as session:
            row = await session.get(SigningRequest, request_id)
            if row is not None:
                row.result = result

    async def release(self, request_id: str) -> None:
        """Drop a PENDING claim after a failure, so that a retry signs again."""
        async with self._sessions() as session:
            await session.execute(
                delete(SigningRequest).where(
                    SigningRequest.request_id == request_id, SigningRequest.state == _PENDING
                )
            )
        self.output_path(request_id).unlink(missing_ok=True)

    def open_output(self, row: SigningRequest) -> Path:
        """The kept output of a finished request, checked against its digest.

        Raises:
            FailedPrecondition: the file is gone or altered.
        """
        path = self.results_dir / (row.output_path or "")
        digest = hashlib.sha256()
        try:
            with path.open("rb") as file:
                while chunk := file.read(1024 * 1024):
                    digest.update(chunk)
        except OSError as exc:
            raise FailedPrecondition(
                "the first result of this request_id is no longer available; use a new one"
            ) from exc
        if digest.hexdigest() != row.output_sha256:
            raise FailedPrecondition(
                "the kept result of this request_id is corrupted; use a new one"
            )
        return path

    async def _maybe_purge(self) -> None:
        now = _now()
        if now - self._last_purge < dt.timedelta(minutes=5):
            return
        self._last_purge = now
        async with self._sessions() as session:
            expired = (
                await session.execute(
                    select(SigningRequest.request_id, SigningRequest.output_path).where(
                        SigningRequest.expires_at < now
                    )
                )
            ).all()
            if not expired:
                return
            await session.execute(
                delete(SigningRequest).where(SigningRequest.request_id.in_([r for r, _ in expired]))
            )
        for _, output in expired:
            if output:
                (self.results_dir / output).unlink(missing_ok=True)
        _log.info("purged %d expired signing request ids", len(expired))
