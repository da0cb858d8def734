"""Plug the OCR service into a hoso server (``hoso serve ocr`` / ``hoso serve all``).

``build`` wires the queue, the text index, the archive connection and — unless
``ocr.workers`` is 0 — worker loops whose pages run in the server's worker processes, plus
the follower that turns the archive's events into jobs (``ocr.follow_archive``).
"""

from __future__ import annotations

from typing import Any

from hoso.ocr.archive import ArchiveConnection
from hoso.ocr.index import open_index
from hoso.ocr.pool import RuntimePool
from hoso.ocr.runner import OcrRunner, engine_options, make_queue
from hoso.ocr.servicer import OcrService
from hoso.ocr.settings import OcrSettings
from sqlalchemy.ext.asyncio import async_sessionmaker

__all__ = ["build"]


async def build(runtime: Any) -> list[Any]:
    """The OCR service's registration; starts its background workers when enabled."""
    from hoso.common.server import Registration
    from hoso.ocr.v1 import ocr_pb2 as _pb
    from hoso.ocr.v1 import ocr_pb2_grpc as _pb_grpc

    settings: OcrSettings = runtime.settings.section("ocr")
    sessions = async_sessionmaker(runtime.engine, expire_on_commit=False)
    queue = make_queue(sessions, settings)
    index = open_index(runtime.engine.dialect.name)
    connection = ArchiveConnection(settings, runtime.loopback_channel)
    options = engine_options(settings)
    runner = None
    loops = settings.workers if settings.enabled else 0
    follow = settings.enabled and settings.follow_archive
    if loops or follow:
        runner = OcrRunner(
            sessions=sessions,
            settings=settings,
            queue=queue,
            index=index,
            connection=connection,
            pool=RuntimePool(runtime.run_cpu, options),
            loops=loops,
            follow=follow,
        )
        runner.start()
    servicer = OcrService(
        sessions,
        settings,
        queue,
        index,
        connection,
        base_options=options,
        runner=runner,
        grace_seconds=runtime.settings.server.grace_seconds,
    )
    return [
        Registration(
            _pb.DESCRIPTOR.services_by_name["OcrService"].full_name,
            _pb_grpc.add_OcrServiceServicer_to_server,
            servicer,
        )
    ]
