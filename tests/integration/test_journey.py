"""The journey of a dossier across all services, on the embedded default and on the server stack.

Embedded: SQLite catalog + local object store. Server mode: PostgreSQL + Ceph RGW (S3 with
object lock). Same steps, same checks (:func:`hoso.client.journey.run_journey`), each one a
real assertion about the services' behaviour.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import aiohttp
import pytest
from hoso.client import Clients
from hoso.client.journey import JourneyInputs, run_journey
from hoso.storage.v1 import storage_pb2 as storage_pb

from tests.fixtures.ocr_pages import clean_page, scanned_pdf

pytestmark = pytest.mark.timeout(600)

JOURNEY_SERVICES = (
    "hoso.signing.v1.SigningService",
    "hoso.signing.v1.VerificationService",
    "hoso.storage.v1.ArchiveService",
    "hoso.ocr.v1.OcrService",
)

EXPECTED_STEPS = [
    "create_dossier",
    "upload_scan",
    "ocr",
    "search",
    "credentials",
    "sign_officer",
    "sign_agency_seal",
    "archive_result",
    "ocr_result",
    "verify",
    "fixity",
    "export",
    "audit",
]


def require_journey_services() -> None:
    """Skip (naming what is missing) until every service of the journey can be served."""
    import importlib.util

    if importlib.util.find_spec("hoso.ocr.service") is None:
        pytest.skip("the OCR service (hoso.ocr.service, issue #7) cannot be served yet")


async def _start(start_server: Any, overrides: dict[str, dict[str, Any]], **kw: Any) -> Any:
    handle = await start_server(["signing", "storage", "ocr"], overrides=overrides, **kw)
    served = {r.service_name for r in handle.running.registrations}
    missing = [name for name in JOURNEY_SERVICES if name not in served]
    if missing:
        pytest.skip(f"not served yet: {', '.join(missing)}")
    return handle


def _ocr_overrides() -> dict[str, Any]:
    # one worker polling often keeps the test quick on 2 cores
    return {"workers": 1, "poll_seconds": 0.2}


async def _journey(handle: Any, *, verification_base_url: str = "") -> None:
    hoso = Clients(handle.channel("operator"))
    inputs = JourneyInputs(
        scan=scanned_pdf([clean_page(0), clean_page(1)]),
        dossier_code="000.00.01.H26-240315-0001",
        verification_base_url=verification_base_url,
        ocr_timeout=240.0,
        step_timeout=240.0,
    )
    result = await run_journey(hoso, inputs)
    assert [step.name for step in result.steps] == EXPECTED_STEPS
    assert result.verdict == "VALID"
    # the QR code links to this server's page of the archived result, which says VALID
    page = f"{handle.http_url}/verify/000.00.01.H26-240315-0001/giay-chung-nhan.pdf"
    assert result.verification_url.startswith(f"{page}?"), result.verification_url
    async with aiohttp.ClientSession() as http, http.get(result.verification_url) as response:
        assert response.status == 200
        html = await response.text()
    assert 'data-verdict="VALID"' in html and "Lê Thị Ánh Tuyết" in html
    assert any("Lê Thị Ánh Tuyết" in name for name in result.signer_names)
    # the rendition is a derived file of the scan, stored next to the untouched original
    renditions = await hoso.archive.list_renditions(result.scan_version)
    assert [r.name for r in renditions] == [result.rendition_version]
    assert renditions[0].rendition_kind == storage_pb.RENDITION_KIND_OCR_PDFA
    signed = await hoso.archive.stat_file(result.signed_version)
    assert signed.signed and signed.component_type == storage_pb.COMPONENT_TYPE_RESULT
    assert signed.retention_class == storage_pb.RETENTION_CLASS_TEN_YEARS
    # run_journey checked the bag by digests; here: the rendition has a payload path of its own
    rendition = await hoso.archive.stat_file(result.rendition_version)
    payload = [m for m in result.export_members if "/data/" in m]
    assert any(m.endswith(f"/{rendition.filename}") for m in payload), payload
    # original scan, its OCR rendition, the signed result and its text sidecar
    assert len(payload) == 4, payload
    sidecar = await hoso.archive.list_renditions(result.signed_version)
    assert [r.name for r in sidecar] == [result.result_sidecar_version]
    assert sidecar[0].rendition_kind == storage_pb.RENDITION_KIND_OCR_TEXT_SIDECAR
    # "Đăng ký" with its diacritics finds the page too, and ranks it as an exact match
    exact = await hoso.ocr.search("Đăng ký", dossier=result.dossier)
    assert any(r.exact_match and r.file_version == result.scan_version for r in exact.results)


@pytest.mark.asyncio
async def test_journey_on_the_embedded_default(start_server, sqlite_url) -> None:
    require_journey_services()
    handle = await _start(start_server, {"ocr": _ocr_overrides()}, database_url=sqlite_url)
    await _journey(handle)


@pytest.mark.asyncio
async def test_journey_on_postgresql_and_ceph(
    start_server, postgres_url, s3_server, s3_bucket
) -> None:
    require_journey_services()
    storage = {
        "backend": "s3",
        "s3_endpoint": s3_server.endpoint,
        "s3_access_key": s3_server.access_key,
        "s3_secret_key": s3_server.secret_key,
        "s3_secure": s3_server.secure,
        "s3_bucket": s3_bucket,
        "object_lock_mode": "GOVERNANCE",
    }
    handle = await _start(
        start_server, {"storage": storage, "ocr": _ocr_overrides()}, database_url=postgres_url
    )
    await _journey(handle, verification_base_url=handle.http_url)  # named explicitly here


async def _demo(handle: Any) -> tuple[int, dict[str, Any]]:
    """``hoso demo --json`` in a subprocess against ``handle`` (whose loop keeps serving)."""
    import asyncio
    import os

    from tests.fixtures.grpc_server import TOKENS

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hoso.cli",
        "demo",
        "--json",
        "--address",
        handle.address,
        "--ocr-timeout",
        "240",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOSO_CLIENT_TOKEN": TOKENS["operator"]},
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=480)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert stdout, stderr.decode()[-2000:]
    return process.returncode or 0, json.loads(stdout)


@pytest.mark.asyncio
async def test_demo_runs_every_step_and_again_on_the_same_server(start_server, sqlite_url) -> None:
    require_journey_services()
    handle = await _start(start_server, {"ocr": _ocr_overrides()}, database_url=sqlite_url)
    first_code, first = await _demo(handle)
    assert first_code == 0 and first["ok"] is True, first
    assert [step["name"] for step in first["steps"]] == EXPECTED_STEPS
    assert first["verdict"] == "VALID"
    assert first["verification_url"].startswith(f"{handle.http_url}/verify/")
    # a second run reuses the officer's and the agency's live certificates
    second_code, second = await _demo(handle)
    assert second_code == 0 and second["ok"] is True, second
    assert second["dossier"] != first["dossier"]
    assert second["verdict"] == "VALID"


def test_demo_reports_an_unreachable_server_as_json_and_fails() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "hoso.cli", "demo", "--json", "--address", "127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOSO_CLIENT_TOKEN": "x", "PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 1
    answer = json.loads(completed.stdout)
    assert answer["ok"] is False and "UNAVAILABLE" in answer["error"]


def _bag(files: dict[str, bytes]) -> bytes:
    import hashlib
    import io
    import tarfile

    manifest = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {path}\n"
        for path, data in files.items()
        if path.startswith("data/")
    )
    files = {
        **files,
        "bagit.txt": b"BagIt-Version: 1.0\n",
        "manifest-sha256.txt": manifest.encode(),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(f"x-bag/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_the_export_check_names_a_missing_report_and_a_missing_file() -> None:
    import hashlib

    from hoso.client.journey import JourneyFailed, _check_bag

    signed, scan = b"%PDF signed", b"%PDF scan"
    digests = {
        "original scan": hashlib.sha256(scan).hexdigest(),
        "signed result": hashlib.sha256(signed).hexdigest(),
    }
    report = json.dumps({"ValidationReport": {"DocumentVerdict": "VALID"}}).encode()
    complete = {
        "data/application_form/001/scan.pdf": scan,
        "data/result/001/kq.pdf": signed,
        "metadata/verification/result/001/kq.pdf.json": report,
    }
    assert "x-bag/data/result/001/kq.pdf" in _check_bag(_bag(complete), digests, "kq.pdf")
    without_report = {k: v for k, v in complete.items() if not k.startswith("metadata/")}
    with pytest.raises(JourneyFailed, match=r"export: metadata/verification/.*kq\.pdf\.json"):
        _check_bag(_bag(without_report), digests, "kq.pdf")
    without_scan = {k: v for k, v in complete.items() if "scan" not in k}
    with pytest.raises(JourneyFailed, match="original scan"):
        _check_bag(_bag(without_scan), digests, "kq.pdf")
    modified = {
        **complete,
        "metadata/verification/result/001/kq.pdf.json": report.replace(b"VALID", b"MODIFIED"),
    }
    with pytest.raises(JourneyFailed, match="says MODIFIED"):
        _check_bag(_bag(modified), digests, "kq.pdf")


@pytest.mark.asyncio
async def test_demo_against_hoso_serve_all_on_a_clean_data_dir(tmp_path) -> None:
    """``make run`` then ``hoso demo`` on a clean checkout: a fresh data dir, nothing else."""
    import asyncio
    import os
    import re
    import signal

    require_journey_services()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOSO_")},
        "HOSO_SERVER__DATA_DIR": str(tmp_path / "data"),  # not ./var: found through the env
        "HOSO_SERVER__PORT": "0",
        "HOSO_SERVER__HTTP_PORT": "0",
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hoso.cli",
        "serve",
        "all",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    drain: asyncio.Task[bytes] | None = None
    try:
        address = ""
        assert server.stderr is not None
        async with asyncio.timeout(180):  # start-up prints the bound addresses (on stderr)
            while not address:
                line = (await server.stderr.readline()).decode()
                assert line, "hoso serve all exited before serving"
                if found := re.search(r"gRPC\s+(\S+:\d+)", line):
                    address = found.group(1)
        drain = asyncio.create_task(server.stderr.read())  # keep its log from filling the pipe
        demo = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hoso.cli",
            "demo",
            "--json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**env, "HOSO_CLIENT_ADDRESS": address},  # token: the data dir's
            cwd=tmp_path,
        )
        stdout, stderr = await asyncio.wait_for(demo.communicate(), timeout=480)
        assert stdout, stderr.decode()[-2000:]
        answer = json.loads(stdout)
        assert demo.returncode == 0 and answer["ok"] is True, answer
        assert [step["name"] for step in answer["steps"]] == EXPECTED_STEPS
        assert answer["verdict"] == "VALID"
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), timeout=60)
            except TimeoutError:
                server.kill()
                await server.wait()
        if drain is not None:
            await drain
