"""The OCR commands against a running server: ``hoso ocr`` uploads and queues, a separate
``hoso ocr-worker`` process (scaled-out mode) does the job and answers health checks,
``hoso search`` finds the page, and SIGTERM stops the worker cleanly.

Subprocesses are driven with asyncio so the server in this test's event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hoso.client import Clients
from hoso.ocr.v1 import ocr_pb2 as ocr_pb
from hoso.storage.v1 import storage_pb2 as storage_pb

from tests.fixtures.grpc_server import TOKENS
from tests.fixtures.ocr_pages import clean_page

pytestmark = [pytest.mark.asyncio, pytest.mark.tesseract, pytest.mark.timeout(300)]


async def _hoso(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hoso.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_ocr_command_worker_process_and_search(
    start_server: Any, database_url: str, tmp_path: Path
) -> None:
    server = await start_server(
        ["storage", "ocr"],
        overrides={"ocr": {"workers": 0, "poll_seconds": 0.1}},
        database_url=database_url,
    )
    hoso = Clients(server.channel("operator"))
    dossier = storage_pb.Dossier(
        dossier_code="H26-OCR-CLI-1", procedure_code="1.001612", agency_code="000.00.01.H26"
    )
    dossier.receive_time.GetCurrentTime()
    name = (await hoso.archive.create_dossier(dossier)).name
    scan = tmp_path / "đơn đăng ký.png"
    scan.write_bytes(clean_page(0).png())
    client_env = {
        **os.environ,
        "HOSO_CLIENT_ADDRESS": server.address,
        "HOSO_CLIENT_TOKEN": TOKENS["operator"],
    }

    code, out, err = await _hoso("ocr", str(scan), "--json", env=client_env)
    assert code == 2 and "--dossier" in err
    code, out, err = await _hoso("ocr", str(scan), "--dossier", name, "--json", env=client_env)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["ok"] and answer["job"]["state"] == "JOB_STATE_QUEUED"
    job_name = answer["job"]["name"]

    worker_env = {
        **os.environ,
        "HOSO_DATABASE__URL": database_url,
        "HOSO_SERVER__DATA_DIR": str(tmp_path / "worker"),
        "HOSO_SERVER__PORT": "0",
        "HOSO_SERVER__GRACE_SECONDS": "30",
        "HOSO_OCR__STORAGE_ADDRESS": server.address,
        "HOSO_OCR__STORAGE_TOKEN": TOKENS["ocr-worker"],
        "HOSO_OCR__WORKERS": "1",
        "HOSO_OCR__POLL_SECONDS": "0.1",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hoso.cli",
        "ocr-worker",
        env=worker_env,
        stderr=asyncio.subprocess.PIPE,
    )
    drain: asyncio.Task[None] | None = None
    try:
        port = None
        assert worker.stderr is not None
        ready = "hoso ocr-worker: health on port "
        while port is None:
            line = (await asyncio.wait_for(worker.stderr.readline(), 60)).decode()
            assert line, "ocr-worker exited before serving health"
            if line.startswith(ready):
                port = int(line.removeprefix(ready))
        # keep reading its log so a full pipe never blocks the worker
        drain = asyncio.create_task(_drain(worker.stderr))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=10
            )
        assert health.status == health_pb2.HealthCheckResponse.SERVING

        job = await hoso.ocr.wait(job_name, timeout=180)
        assert job.state == ocr_pb.JOB_STATE_SUCCEEDED, job
        assert job.rendition_file_version

        code, out, err = await _hoso(
            "search", "ho so dang ky", "--dossier", name, "--json", env=client_env
        )
        assert code == 0, err
        found = json.loads(out)
        assert found["results"][0]["file_version"] == answer["file_version"]
        code, out, _ = await _hoso("search", "xyzzy quux", "--json", env=client_env)
        assert code == 1 and json.loads(out)["ok"] is False
        code, out, _ = await _hoso("search", "", "--json", env=client_env)
        assert code == 1 and "INVALID_ARGUMENT" in json.loads(out)["error"]

        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 60) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        if drain is not None:
            await drain


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass
