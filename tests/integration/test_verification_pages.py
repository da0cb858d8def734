"""The public verification pages over real HTTP, against real signing and storage services."""

from __future__ import annotations

import aiohttp
import pytest
from hoso.client import ArchiveClient
from hoso.storage.v1 import storage_pb2 as storage_pb

pytestmark = pytest.mark.asyncio


async def test_form_is_served_in_vietnamese_and_english(start_server) -> None:
    handle = await start_server(["signing"])
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{handle.http_url}/verify") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/html")
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            page = await response.text()
            assert '<html lang="vi">' in page and "Kiểm tra một tệp PDF" in page
        async with http.get(f"{handle.http_url}/verify?lang=en") as response:
            assert '<html lang="en">' in await response.text()


async def test_upload_without_a_file_says_so(start_server) -> None:
    handle = await start_server(["signing"])
    form = aiohttp.FormData()
    form.add_field("lang", "en")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{handle.http_url}/verify", data=form) as response,
    ):
        assert response.status == 400
        assert "No PDF file was chosen." in await response.text()


async def test_upload_over_the_limit_is_refused(start_server) -> None:
    handle = await start_server(["signing"])
    from hoso.signing.web.routes import MAX_UPLOAD_BYTES

    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.7\n" + b"0" * MAX_UPLOAD_BYTES, filename="big.pdf")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{handle.http_url}/verify?lang=en", data=form) as response,
    ):
        assert response.status == 413
        assert "too large" in await response.text()


async def test_unknown_archived_document_is_not_found(start_server) -> None:
    handle = await start_server(["signing", "storage"])
    archive = ArchiveClient(handle.channel("operator"))
    dossier = storage_pb.Dossier(
        dossier_code="H26-0001",
        procedure_code="1.001612",
        agency_code="000.00.01.H26",
        title="Đăng ký hộ kinh doanh",
    )
    dossier.receive_time.GetCurrentTime()
    await archive.create_dossier(dossier)
    async with aiohttp.ClientSession() as http:
        for path in (
            "/verify/NO-SUCH/a.pdf",
            "/verify/H26-0001/missing.pdf",
            "/verify/bad%20code/a.pdf",
        ):
            async with http.get(f"{handle.http_url}{path}?lang=en") as response:
                assert response.status == 404, path
                assert "No such archived document" in await response.text()
