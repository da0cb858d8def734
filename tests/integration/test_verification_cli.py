"""``hoso verify --remote``: the server verifies against its trust profiles; exit codes stay
those of local verification (#5)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
import typer
from hoso.cli.verify import EXIT_CODES, EXIT_REFUSED, EXIT_SERVER, verify
from hoso.signing.v1 import verification_pb2 as pb
from hoso.signing.v1 import verification_pb2_grpc as pb_grpc
from hoso.signing.verify.findings import Verdict
from typer.testing import CliRunner

from tests.fixtures.attacks import base_pdf
from tests.fixtures.grpc_server import TOKENS
from tests.integration.test_verification_api import PKI, SETTINGS, SIGNED

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _quiet_pyhanko(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="pyhanko")


async def test_remote_verification_prints_the_servers_report(
    start_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=SETTINGS)
    await pb_grpc.VerificationServiceStub(server.channel("operator")).CreateTrustProfile(
        pb.CreateTrustProfileRequest(
            trust_profile_id="test-pki",
            trust_profile=pb.TrustProfile(anchors=[pb.TrustAnchor(der=PKI.root.der)]),
        )
    )
    monkeypatch.setenv("HOSO_CLIENT_TOKEN", TOKENS["auditor"])
    app = typer.Typer()
    app.command()(verify)
    runner = CliRunner()
    signed, unsigned, junk = tmp_path / "ky.pdf", tmp_path / "trang.pdf", tmp_path / "x.pdf"
    signed.write_bytes(SIGNED)
    unsigned.write_bytes(base_pdf())
    junk.write_bytes(b"hello")

    async def run(*args: str, address: str = server.address):  # type: ignore[no-untyped-def]
        # the command runs its own event loop, so it runs beside this one
        return await asyncio.to_thread(
            runner.invoke, app, [*args, "--remote", "--address", address]
        )

    out = await run(str(signed), "--profile", "test-pki", "--lang", "en")
    assert out.exit_code == EXIT_CODES[Verdict.VALID], out.output
    assert "Verdict: VALID" in out.output and "Trust profile: trustProfiles/test-pki" in out.output
    out = await run(str(signed), "--json", "--profile", "trustProfiles/test-pki")
    assert json.loads(out.output)["ValidationReport"]["DocumentVerdict"] == "VALID"
    out = await run(str(signed))  # the server's default profile: our own root
    assert out.exit_code == EXIT_CODES[Verdict.INVALID], out.output
    out = await run(str(unsigned))
    assert out.exit_code == EXIT_CODES[Verdict.UNSIGNED], out.output

    out = await run(str(signed), "--profile", "nope")
    assert out.exit_code == EXIT_REFUSED and "NOT_FOUND" in out.output
    out = await run(str(junk), "--json")
    assert out.exit_code == EXIT_REFUSED
    assert json.loads(out.output)["error"] == "INVALID_ARGUMENT"
    out = await run(str(signed), address="127.0.0.1:9")
    assert out.exit_code == EXIT_SERVER and "UNAVAILABLE" in out.output
    out = await run(str(signed), "--anchor", str(junk))
    assert out.exit_code != 0 and "--profile" in out.output
