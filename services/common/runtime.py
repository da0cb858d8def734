"""What a running process shares between its services: settings, database, workers, HTTP, audit."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import secrets
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from hoso.common import audit, db
from hoso.common.auth import current_caller
from hoso.common.config import Settings
from hoso.common.errors import Unavailable
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

__all__ = ["Runtime"]

T = TypeVar("T")


def _init_worker() -> None:
    # Tesseract and BLAS spawn a thread per core unless told otherwise; with one
    # worker process per core that oversubscribes the machine (~6x slower on 2 cores).
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")


class Runtime:
    """Shared resources of one hoso process.

    The runtime owns its engine, worker pool and HTTP application; :meth:`close` releases
    them. Services receive it in ``build(runtime)``.
    """

    def __init__(self, settings: Settings, *, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self.database_url = db.database_url(settings.database.url, settings.server.data_dir)
        self.engine = engine or db.create_engine(
            self.database_url, pool_size=settings.database.pool_size, echo=settings.database.echo
        )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._pool: ProcessPoolExecutor | None = None
        self.http = web.Application(client_max_size=64 * 1024 * 1024)
        self.http_port: int | None = None
        self.grpc_port: int | None = None
        #: Bearer token of calls one service of this process makes to another (see
        #: :meth:`loopback_channel`); random per process, never written anywhere.
        self.internal_token = secrets.token_urlsafe(32)
        self._loopback: Any = None

    @property
    def data_dir(self) -> Path:
        return self.settings.server.data_dir

    @property
    def is_postgres(self) -> bool:
        return db.is_postgres(self.database_url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back on error."""
        async with self._sessions() as session, session.begin():
            yield session

    async def run_cpu(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a worker process (``fn`` and ``args`` must pickle)."""
        pool = self._worker_pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool as e:
            # A worker died (killed, or a native library crashed on hostile input). The pool
            # cannot be used again: replace it so later calls work, and tell this caller.
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise Unavailable(
                "a worker process stopped while handling the request; the pool was restarted, "
                "retry the call"
            ) from e

    def _worker_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.settings.server.worker_count(),
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_init_worker,
            )
        return self._pool

    async def audit(
        self,
        session: AsyncSession,
        *,
        action: str,
        target: str,
        digest: str | None = None,
        details: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> audit.AuditEvent:
        """Append a hash-chained audit event in ``session``'s transaction.

        The actor is the current RPC's caller unless given.
        """
        return await audit.append_event(
            session,
            actor=actor or current_caller().name,
            action=action,
            target=target,
            subject_digest=digest,
            details=details,
        )

    def loopback_channel(self) -> Any:
        """A gRPC channel to this process's own server, as the caller ``internal``.

        For a service that calls another one served by the same process (the verification
        page reading the archive, for example). Only valid after the server started.
        """
        if self._loopback is None:
            if self.grpc_port is None:
                raise RuntimeError("the gRPC server has not started yet")
            import grpc
            from hoso.client.channel import ClientConfig, connect

            server = self.settings.server
            host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
            config = ClientConfig(address=f"{host}:{self.grpc_port}", token=self.internal_token)
            if server.tls_cert_file is not None:
                # our own certificate is the root a loopback caller trusts
                credentials = grpc.ssl_channel_credentials(server.tls_cert_file.read_bytes())
                self._loopback = grpc.aio.secure_channel(
                    config.address,
                    grpc.composite_channel_credentials(
                        credentials,
                        grpc.access_token_call_credentials(self.internal_token),
                    ),
                )
            else:
                self._loopback = connect(config)
        return self._loopback

    async def close(self) -> None:
        if self._loopback is not None:
            await self._loopback.close()
            self._loopback = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        await self.engine.dispose()
