"""The services record their domain metrics: signatures, OCR pages, queue depth, RPC latency.

Read through an in-memory metric reader (``memory_metrics`` in ``tests/fixtures/telemetry.py``)
after one real signature and one real OCR job on the embedded default.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hoso.client import Clients, samples
from hoso.ocr.v1 import ocr_pb2 as ocr_pb
from hoso.signing.v1 import signing_pb2 as sign_pb
from hoso.signing.v1 import trust_pb2 as trust_pb
from hoso.storage.v1 import storage_pb2 as storage_pb
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tests.fixtures.ocr_pages import clean_page, scanned_pdf

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(300)]


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    points: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


async def _until(reader: InMemoryMetricReader, name: str, timeout: float = 60.0) -> list[Any]:
    """Data points of ``name`` once there are any (bounded: the worker records just after it
    commits the job, so a client can see the job done a moment before the metric)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (found := _points(reader).get(name)):
        assert loop.time() < deadline, f"{name} not recorded within {timeout} s"
        await asyncio.sleep(0.05)
    return found


async def test_a_signature_and_an_ocr_job_are_measured(
    start_server, sqlite_url, memory_metrics
) -> None:
    handle = await start_server(
        ["signing", "storage", "ocr"],
        overrides={"ocr": {"workers": 1, "poll_seconds": 0.2}},
        database_url=sqlite_url,
    )
    hoso = Clients(handle.channel("operator"))
    assert "hoso.signing.signatures" not in _points(memory_metrics)

    # one B-T signature
    subject = trust_pb.DistinguishedName(common_name="Trần Văn Bình", organization="UBND")
    certificate = await hoso.trust.issue_certificate(subject, trust_pb.CERTIFICATE_PROFILE_OFFICIAL)
    credential = await hoso.trust.create_credential(
        certificate.name, owner="Trần Văn Bình", pin="135790", description="metrics"
    )
    await hoso.signing.sign_pdf(
        sign_pb.SignPdfHeader(
            credential=credential.name,
            consent=sign_pb.Consent(pin="135790"),
            options=sign_pb.SignatureOptions(level=sign_pb.PADES_LEVEL_B_T),
            filename="kq.pdf",
        ),
        samples.result_document(),
    )
    (signatures,) = _points(memory_metrics)["hoso.signing.signatures"]
    assert signatures.value == 1 and signatures.attributes == {"level": "B-T", "kind": "pades"}
    (duration,) = _points(memory_metrics)["hoso.signing.duration"]
    assert duration.count == 1 and duration.sum > 0

    # one OCR job of a two-page scan, queued from the archive's outbox
    dossier = storage_pb.Dossier(
        dossier_code="H26-METRICS-1", procedure_code="1.001612", agency_code="000.00.01.H26"
    )
    dossier.receive_time.GetCurrentTime()
    created = await hoso.archive.create_dossier(dossier)
    stored = await hoso.archive.put_file(
        storage_pb.PutFileHeader(
            dossier=created.name,
            filename="scan.pdf",
            component_type=storage_pb.COMPONENT_TYPE_APPLICATION_FORM,
        ),
        scanned_pdf([clean_page(0), clean_page(1)]),
    )
    (job,) = await hoso.ocr.wait_for_dossier(created.name, [stored.name], timeout=240)
    assert job.state == ocr_pb.JOB_STATE_SUCCEEDED
    pages = await _until(memory_metrics, "hoso.ocr.pages")
    assert {p.attributes["outcome"]: p.value for p in pages} == {"ok": 2}
    (per_page,) = await _until(memory_metrics, "hoso.ocr.page.duration")
    assert per_page.count == 1 and per_page.sum > 0
    depth = _points(memory_metrics)["hoso.queue.depth"]
    assert [p.attributes for p in depth] == [{"queue": "ocr"}]
    assert depth[0].value >= 0

    # and every served call's latency, by method and status
    rpcs = {
        (p.attributes["rpc.method"], p.attributes["rpc.grpc.status_code"])
        for p in _points(memory_metrics)["hoso.rpc.server.duration"]
    }
    assert ("/hoso.signing.v1.SigningService/SignPdf", "OK") in rpcs, sorted(rpcs)
