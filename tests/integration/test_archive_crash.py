"""Killing the server in the middle of a 100 MB upload leaves no object and no catalog row."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from hoso.storage.v1 import storage_pb2 as pb
from hoso.storage.v1 import storage_pb2_grpc as pb_grpc

from tests.fixtures.archive import TEST_KEY, make_pdf, token_channel

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

SIZE = 100 * 1024 * 1024
CHUNK = 1024 * 1024


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    data = tmp_path / "data"
    config = tmp_path / "hoso.toml"
    config.write_text(
        f'[server]\nport = 0\nhttp_port = 0\ndata_dir = "{data}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "catalog.sqlite3"}"\n'
        f'[storage]\nbackend = "local"\nlocal_root = "{tmp_path / "objects"}"\nlocal_key = "{TEST_KEY}"\n'
        "stale_upload_seconds = 0\n"
        '[telemetry]\nlog_format = "text"\n'
    )
    env = {**os.environ, "HOSO_CONFIG": str(config)}
    process = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "serve", "storage"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    address = ""
    assert process.stderr is not None
    for raw in process.stderr:  # the server prints its port once it listens
        line = raw.decode()
        if line.strip().startswith("gRPC "):
            address = "127.0.0.1:" + line.rsplit(":", 1)[1].strip()
            break
    assert address, "the server did not report its gRPC port"
    # Keep draining the log so a full pipe never blocks the server.
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()  # type: ignore[union-attr]
    token = (data / "operator.token").read_text().strip()
    return process, address, token


async def test_kill_during_upload_leaves_nothing(tmp_path: Path) -> None:
    process, address, token = _start(tmp_path)
    killed = asyncio.Event()
    sent = 0
    try:
        channel = token_channel(address, token)
        stub = pb_grpc.ArchiveServiceStub(channel)
        dossier = pb.Dossier(dossier_code="KILL-1", procedure_code="1.1", agency_code="H26")
        dossier.receive_time.GetCurrentTime()
        await stub.CreateDossier(pb.CreateDossierRequest(dossier=dossier))
        head = make_pdf()
        filler = bytes(CHUNK)

        async def requests() -> AsyncIterator[pb.PutFileRequest]:
            nonlocal sent
            yield pb.PutFileRequest(
                header=pb.PutFileHeader(
                    dossier="dossiers/KILL-1",
                    filename="big.pdf",
                    component_type=pb.COMPONENT_TYPE_SUPPORTING_DOCUMENT,
                    expected_size_bytes=SIZE,
                )
            )
            yield pb.PutFileRequest(chunk=head)
            sent = len(head)
            while sent < SIZE:
                piece = filler[: min(CHUNK, SIZE - sent)]
                yield pb.PutFileRequest(chunk=piece)
                sent += len(piece)
                if sent >= SIZE // 2 and not killed.is_set():
                    process.send_signal(signal.SIGKILL)  # no chance to clean up
                    process.wait()
                    killed.set()

        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.PutFile(requests())
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert killed.is_set() and sent < SIZE
        await channel.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    rows = (
        sqlite3.connect(tmp_path / "catalog.sqlite3")
        .execute("SELECT count(*) FROM storage_versions")
        .fetchone()
    )
    assert rows == (0,)
    assert list((tmp_path / "objects" / "objects").rglob("*.obj")) == []
    # A restart sweeps the half-written staging file away.
    process, _, _ = _start(tmp_path)
    try:
        assert list((tmp_path / "objects" / "staging").glob("*.part")) == []
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
