"""``hoso ocr-worker``: OCR workers in a process of their own (the scaled-out deployment).

The process claims jobs from the shared catalog database, reads originals from and stores
renditions in the archive over gRPC (``ocr.storage_address``), and serves only gRPC health
on ``server.port`` so Kubernetes can probe it. On SIGTERM it stops claiming, lets running
jobs finish within ``server.grace_seconds`` and gives the others back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from hoso.common import db
from hoso.common.config import Settings
from hoso.ocr.archive import ArchiveConnection
from hoso.ocr.index import open_index
from hoso.ocr.pool import OcrPool
from hoso.ocr.runner import OcrRunner, engine_options, make_queue
from hoso.ocr.settings import OcrSettings
from sqlalchemy.ext.asyncio import async_sessionmaker

__all__ = ["run_worker"]

_log = logging.getLogger("hoso.ocr.worker")


def _archive_settings(settings: OcrSettings) -> OcrSettings:
    """``settings`` with an archive address: the option, else the client defaults
    (``HOSO_CLIENT_ADDRESS`` / ``HOSO_CLIENT_TOKEN`` / the embedded operator token)."""
    if settings.storage_address:
        return settings
    from hoso.client.channel import default_config

    config = default_config()
    update: dict[str, object] = {"storage_address": config.address}
    if settings.storage_token is None and config.token:
        from pydantic import SecretStr

        update["storage_token"] = SecretStr(config.token)
    return settings.model_copy(update=update)


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Run OCR workers until ``stop`` is set (or SIGINT/SIGTERM when not given).

    Args:
        settings: The whole configuration (``[ocr]``, ``[database]``, ``[server]``).
        stop: Set to shut down; ``None`` installs signal handlers.
        on_ready: Called with the health port once serving.
    """
    ocr = _archive_settings(settings.section("ocr"))
    url = db.database_url(settings.database.url, settings.server.data_dir)
    engine = db.create_engine(url, pool_size=settings.database.pool_size)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    options = engine_options(ocr)
    pool = OcrPool(options, max(1, ocr.workers))
    connection = ArchiveConnection(ocr)
    runner = OcrRunner(
        sessions=sessions,
        settings=ocr,
        queue=make_queue(sessions, ocr),
        index=open_index(engine.dialect.name),
        connection=connection,
        pool=pool,
        loops=max(1, ocr.workers),
        follow=False,
    )
    health = HealthServicer()
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port(f"{settings.server.host}:{settings.server.port}")
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
        runner.start()
        await health.set("", health_pb2.HealthCheckResponse.SERVING)
        await health.set("hoso.ocr", health_pb2.HealthCheckResponse.SERVING)
        _log.info("OCR worker: %d job(s) at once, health on port %d", runner.loops, port)
        if on_ready is not None:
            on_ready(port)
        await stop.wait()
        _log.info("OCR worker stopping: no new jobs, finishing the running ones")
        await health.enter_graceful_shutdown()
        await runner.stop(settings.server.grace_seconds)
    finally:
        await server.stop(1)
        await connection.close()
        pool.close()
        await engine.dispose()
