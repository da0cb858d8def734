"""Killing the server in the middle of a 100 MB upload leaves no object and no catalog row.

Runs against the local store and Ceph RGW. On S3 the killed server cannot abort its multipart
upload, so the test also shows that the next start sweeps it away.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hoso.client.channel import ClientConfig, connect
from hoso.storage.v1 import storage_pb2 as pb
from hoso.storage.v1 import storage_pb2_grpc as pb_grpc

from tests.fixtures.archive import (
    TEST_KEY,
    drop_bucket,
    make_bucket,
    make_pdf,
    require_s3,
    s3_client,
    s3_overrides,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

SIZE = 100 * 1024 * 1024
CHUNK = 1024 * 1024


def _toml(values: dict[str, Any]) -> str:
    lines = []
    for key, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {str(value).lower()}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        elif isinstance(value, dict):
            inner = ", ".join(f'"{k}" = "{v}"' for k, v in value.items())
            lines.append(f"{key} = {{ {inner} }}")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["local", "s3"])
def storage_options(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``[storage]`` options of the server under test, with a fresh bucket on S3."""
    if request.param == "local":
        yield {"backend": "local", "local_root": str(tmp_path / "objects"), "local_key": TEST_KEY}
        return
    env = require_s3()
    client = s3_client(env)
    bucket = make_bucket(client)
    try:
        yield {**s3_overrides(env, bucket), "_client": client}
    finally:
        drop_bucket(client, bucket)


def _start(tmp_path: Path, storage: dict[str, Any]) -> tuple[subprocess.Popen[bytes], str, str]:
    data = tmp_path / "data"
    config = tmp_path / "hoso.toml"
    options = {k: v for k, v in storage.items() if not k.startswith("_")}
    config.write_text(
        f'[server]\nport = 0\nhttp_port = 0\ndata_dir = "{data}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "catalog.sqlite3"}"\n'
        "[storage]\nstale_upload_seconds = 0\n" + _toml(options) + "[telemetry]\n"
        'log_format = "text"\n'
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
    log: list[str] = []
    for raw in process.stderr:  # the server prints its port once it listens
        line = raw.decode()
        log.append(line)
        if line.strip().startswith("gRPC "):
            address = "127.0.0.1:" + line.rsplit(":", 1)[1].strip()
            break
    assert address, "the server did not report its gRPC port:\n" + "".join(log[-30:])
    # Keep draining the log so a full pipe never blocks the server.
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()  # type: ignore[union-attr]
    token = (data / "operator.token").read_text().strip()
    return process, address, token


def _incomplete_uploads(storage: dict[str, Any]) -> list[str]:
    client = storage["_client"]
    return [u.object_name for u in client._list_multipart_uploads(storage["s3_bucket"]).uploads]


def _objects(storage: dict[str, Any], tmp_path: Path) -> list[str]:
    if storage["backend"] == "s3":
        return [
            o.object_name
            for o in storage["_client"].list_objects(
                bucket_name=storage["s3_bucket"], recursive=True, include_version=True
            )
        ]
    return [str(p) for p in (tmp_path / "objects" / "objects").rglob("*.obj")]


async def test_kill_during_upload_leaves_nothing(
    tmp_path: Path, storage_options: dict[str, Any]
) -> None:
    process, address, token = _start(tmp_path, storage_options)
    killed = asyncio.Event()
    sent = 0
    try:
        channel = connect(ClientConfig(address=address, token=token))
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
                    if storage_options["backend"] == "s3":
                        # The server has begun a multipart upload that it cannot finish.
                        assert _incomplete_uploads(storage_options)
                    process.send_signal(signal.SIGKILL)  # no chance to clean up
                    process.wait()
                    killed.set()

        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.PutFile(requests())
        # The server died while the client was writing: grpc.aio's client reports the lost
        # connection (UNAVAILABLE) or, when a write was in flight, its own failed write.
        code, details = info.value.code(), info.value.details() or ""
        assert code == grpc.StatusCode.UNAVAILABLE or (
            code == grpc.StatusCode.INTERNAL and details == "Internal error from Core"
        ), (code, details)
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
    assert _objects(storage_options, tmp_path) == []
    # A restart sweeps the half-written upload away (it is older than stale_upload_seconds).
    process, _, _ = _start(tmp_path, storage_options)
    try:
        if storage_options["backend"] == "s3":
            assert _incomplete_uploads(storage_options) == []
        else:
            assert list((tmp_path / "objects" / "staging").glob("*.part")) == []
        assert _objects(storage_options, tmp_path) == []
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
