"""Exports carry each signed PDF's verification report when the signing service is reachable."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest
from hoso.storage.v1 import storage_pb2 as pb
from hoso.storage.v1 import storage_pb2_grpc as pb_grpc

from tests.fixtures.pades import SigningServer, make_pdf
from tests.integration.test_archive_api import create_dossier, put
from tests.integration.test_signing_api import sign

pytestmark = pytest.mark.asyncio


async def _export(
    stub: pb_grpc.ArchiveServiceStub, dossier: str
) -> tuple[pb.ExportManifest, tarfile.TarFile]:
    manifest = None
    data = bytearray()
    request = pb.ExportDossierRequest(name=dossier, include_verification_reports=True)
    async for message in stub.ExportDossier(request):
        if message.WhichOneof("payload") == "manifest":
            manifest = message.manifest
        else:
            data += message.chunk
    assert manifest is not None
    return manifest, tarfile.open(fileobj=io.BytesIO(bytes(data)))


def _text(tar: tarfile.TarFile, name: str) -> str:
    member = tar.extractfile(name)
    assert member is not None, name
    return member.read().decode()


async def test_export_includes_verification_reports_of_signed_pdfs(
    signing_server: SigningServer,
) -> None:
    _, signed = await sign(signing_server, make_pdf())
    stub = pb_grpc.ArchiveServiceStub(signing_server.handle.channel("operator"))
    dossier = await create_dossier(stub)
    result = await put(
        stub,
        dossier.name,
        signed,
        filename="quyết định.pdf",
        component_type=pb.COMPONENT_TYPE_RESULT,
    )
    assert result.signed
    await put(stub, dossier.name, make_pdf(["TO KHAI", "Nguyen Van A"]), filename="to-khai.pdf")
    manifest, tar = await _export(stub, dossier.name)
    assert manifest.verification_reports_included
    root = manifest.bag_name
    stem = f"{root}/metadata/verification/result/001/quyết định.pdf"
    assert "ValidationReport" in json.loads(_text(tar, f"{stem}.json"))
    human = _text(tar, f"{stem}.txt")
    assert "Tệp: quyết định.pdf" in human
    assert hashlib.sha256(signed).hexdigest() in human
    names = tar.getnames()
    # Only the signed PDF has a report; every tag file is in the tag manifest.
    assert [n for n in names if "/metadata/verification/" in n] == [f"{stem}.json", f"{stem}.txt"]
    tag_manifest = _text(tar, f"{root}/tagmanifest-sha256.txt")
    assert "metadata/verification/result/001/quyết định.pdf.json" in tag_manifest
    assert "2 signature verification reports" not in _text(tar, f"{root}/bag-info.txt")
    assert "1 signature verification reports" in _text(tar, f"{root}/bag-info.txt")


async def test_export_without_signing_service_says_reports_are_missing(start_server) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures.pades import make_pdf as plain_pdf

    handle = await start_server(["storage"])
    stub = pb_grpc.ArchiveServiceStub(handle.channel("operator"))
    dossier = await create_dossier(stub)
    # A PDF with a signature dictionary is enough to ask for a report.
    fake_signed = plain_pdf().replace(b"%%EOF", b"% /ByteRange [0 0 0 0]\n%%EOF")
    await put(stub, dossier.name, fake_signed, filename="ky.pdf")
    manifest, tar = await _export(stub, dossier.name)
    info = _text(tar, f"{manifest.bag_name}/bag-info.txt")
    assert "signature verification unavailable" in info
    assert not [n for n in tar.getnames() if "/metadata/verification/" in n]
