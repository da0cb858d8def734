"""``hoso sign`` against a running signing service."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
import typer
from hoso.cli.sign import sign
from pyhanko.pdf_utils.reader import PdfFileReader
from typer.testing import CliRunner

from tests.fixtures.grpc_server import TOKENS
from tests.fixtures.pades import PIN, SigningServer, make_pdf
from tests.integration.test_signing_api import assert_valid

pytestmark = pytest.mark.asyncio


async def test_hoso_sign(
    signing_server: SigningServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    signature_png: bytes,
) -> None:
    monkeypatch.setenv("HOSO_CLIENT_TOKEN", TOKENS["dms"])
    app = typer.Typer()
    app.command()(sign)
    runner = CliRunner()
    source, signed, image = tmp_path / "qd.pdf", tmp_path / "qd-ky.pdf", tmp_path / "chu-ky.png"
    source.write_bytes(make_pdf())
    image.write_bytes(signature_png)
    address = signing_server.handle.address  # type: ignore[attr-defined]

    async def run(*args: str):  # type: ignore[no-untyped-def]
        # the command runs its own event loop, so it runs beside this one
        return await asyncio.to_thread(runner.invoke, app, [*args, "--address", address])

    out = await run(
        str(source), "-o", str(signed), "--credential", signing_server.credential,
        "--pin", PIN, "--level", "B-LT", "--visible", "1,330,150,180,70",
        "--image", str(image), "--json",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["level"] == "PADES_LEVEL_B_LT"
    assert result["output"] == str(signed)
    await assert_valid(signing_server, signed.read_bytes())
    widget = PdfFileReader(io.BytesIO(signed.read_bytes())).embedded_regular_signatures[0]
    assert widget.sig_field.get("/Kids") or widget.sig_field.get("/Rect")

    out = await run(str(source), "-o", str(tmp_path / "x.pdf"), "--credential",
                    signing_server.credential, "--pin", "0000000", "--json")  # fmt: skip
    assert out.exit_code == 1
    assert json.loads(out.output)["error"] == "PERMISSION_DENIED"
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / ".x.pdf.part").exists()

    out = await run(str(source), "-o", str(tmp_path / "y.pdf"), "--credential", "c",
                    "--pin", PIN, "--level", "B-X")  # fmt: skip
    assert out.exit_code == 2
