"""``hoso demo``: the journey of one dossier against the running services, step by step.

Start the services first (``make run`` or ``hoso serve all``); the demo connects like any
client (``HOSO_CLIENT_ADDRESS``, token from ``HOSO_CLIENT_TOKEN`` or the ``operator.token``
that ``hoso serve`` wrote in its data dir, ``HOSO_SERVER__DATA_DIR`` / the config, else ``var/``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, NoReturn

import typer

__all__ = ["register"]


def _describe(step: Any) -> str:
    detail = ", ".join(f"{k}={v}" for k, v in step.detail.items() if k != "snippet")
    return f"  ✓ {step.name:<18} {step.seconds * 1000:8.1f} ms  {detail}"


def demo(
    address: Annotated[
        str | None, typer.Option(help="host:port of the server (else HOSO_CLIENT_ADDRESS)")
    ] = None,
    verification_url: Annotated[
        str,
        typer.Option(
            help="Base URL of the verification pages for the QR code (else the server's own)."
        ),
    ] = "",
    ocr_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for OCR of the scan before failing.")
    ] = 180.0,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Run the whole journey of a dossier: archive, OCR, search, sign, verify, export, audit."""
    import grpc
    from hoso.client import Clients, default_config
    from hoso.client.journey import JourneyFailed, JourneyInputs, run_journey

    inputs = JourneyInputs(verification_base_url=verification_url, ocr_timeout=ocr_timeout)
    if not as_json:
        typer.echo(f"hoso demo: dossier {inputs.dossier_code}")

    def on_step(step: Any) -> None:
        if not as_json:
            typer.echo(_describe(step))

    async def go() -> Any:
        config = default_config(address=address)
        async with Clients.connect(config) as hoso:
            return await run_journey(hoso, inputs, on_step=on_step)

    try:
        result = asyncio.run(go())
    except JourneyFailed as e:
        _fail(as_json, f"step {e.step} failed: {e}")
    except grpc.aio.AioRpcError as e:
        _fail(as_json, f"{e.code().name}: {e.details()}")
    if as_json:
        typer.echo(json.dumps({"ok": True, **result.as_dict()}, ensure_ascii=False))
        return
    typer.echo(f"verdict {result.verdict}; signed result {result.signed_version}")
    if result.verification_url:
        typer.echo(f"verification page: {result.verification_url}")


def _fail(as_json: bool, message: str) -> NoReturn:
    if as_json:
        typer.echo(json.dumps({"ok": False, "error": message}, ensure_ascii=False))
    else:
        typer.echo(f"hoso demo: {message}", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``hoso demo`` to the root command."""
    app.command("demo")(demo)
