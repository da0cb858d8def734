"""OCR commands: ``hoso ocr FILE|--file-version NAME``, ``hoso search QUERY``, ``hoso ocr-worker``."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

Address = Annotated[
    str | None, typer.Option(help="host:port of the server (else HOSO_CLIENT_ADDRESS)")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _clients(address: str | None) -> Any:
    from hoso.client import Clients
    from hoso.client.channel import connect, default_config

    return Clients(connect(default_config(address=address)), owns_channel=True)


def _run(coro: Any, as_json: bool) -> Any:
    import grpc

    try:
        return asyncio.run(coro)
    except grpc.aio.AioRpcError as e:
        if as_json:
            typer.echo(json.dumps({"ok": False, "error": f"{e.code().name}: {e.details()}"}))
        else:
            typer.echo(f"hoso: {e.code().name}: {e.details()}", err=True)
        raise typer.Exit(1) from e
    except TimeoutError as e:
        typer.echo(json.dumps({"ok": False, "error": str(e)}) if as_json else f"hoso: {e}")
        raise typer.Exit(1) from e


def _as_dict(message: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(message, preserving_proto_field_name=True)


async def _watch(clients: Any, name: str, timeout: float, quiet: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    last = None
    with Progress(
        TextColumn("OCR {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        disable=quiet,
        transient=True,
    ) as bar:
        task = bar.add_task(name, total=None)
        async for job in clients.ocr.watch(name, timeout=timeout):
            last = job
            bar.update(task, completed=job.pages_done, total=job.pages_total or None)
    if last is None:
        raise TimeoutError(f"OCR job {name} did not finish within {timeout} s")
    return last


def ocr_command(
    file: Annotated[
        Path | None, typer.Argument(help="A local PDF/TIFF/JPEG/PNG to upload.")
    ] = None,
    file_version: Annotated[
        str, typer.Option(help="An archived version: dossiers/{d}/files/{f}/versions/{v}")
    ] = "",
    dossier: Annotated[
        str, typer.Option(help="Dossier to upload FILE into (dossiers/{code}).")
    ] = "",
    component: Annotated[
        str, typer.Option(help="Component type of an uploaded FILE, e.g. APPLICATION_FORM.")
    ] = "SUPPORTING_DOCUMENT",
    language: Annotated[
        list[str] | None, typer.Option("--language", help="Tesseract language (repeat).")
    ] = None,
    redo: Annotated[bool, typer.Option(help="OCR pages that already have text too.")] = False,
    wait: Annotated[
        bool, typer.Option(help="Follow the job (progress bar) until it ends.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 600.0,
    address: Address = None,
    as_json: Json = False,
) -> None:
    """OCR a file: upload FILE into --dossier, or name an archived --file-version.

    Exits 1 when the request is refused or, with --wait, when the job does not succeed.
    """
    from hoso.ocr.v1 import ocr_pb2 as ocr_pb
    from hoso.storage.v1 import storage_pb2 as storage_pb

    if (file is None) == (not file_version):
        typer.echo("hoso: give either FILE or --file-version", err=True)
        raise typer.Exit(2)
    if file is not None and not dossier:
        typer.echo("hoso: --dossier is required to upload a local file", err=True)
        raise typer.Exit(2)
    if file is not None and not file.is_file():
        typer.echo(f"hoso: {file} is not a file", err=True)
        raise typer.Exit(2)
    component_key = "COMPONENT_TYPE_" + component.upper().removeprefix("COMPONENT_TYPE_")
    if component_key not in set(storage_pb.ComponentType.keys()):
        typer.echo(f"hoso: unknown component type {component!r}", err=True)
        raise typer.Exit(2)
    component_value = storage_pb.ComponentType.Value(component_key)

    async def go() -> tuple[Any, Any]:
        async with _clients(address) as clients:
            name = file_version
            if file is not None:
                header = storage_pb.PutFileHeader(
                    dossier=dossier,
                    filename=unicodedata.normalize("NFC", file.name),
                    component_type=component_value,
                )
                name = (await clients.archive.put_file(header, file)).name
            options = None
            if language or redo:
                options = ocr_pb.OcrOptions(
                    languages=language or [],
                    redo_pages_with_text=redo,
                    deskew=True,
                    rotate=True,
                    produce_pdfa=True,
                )
            job = await clients.ocr.submit(name, options=options)
            if wait:
                job = await _watch(clients, job.name, timeout, quiet=as_json)
            return name, job

    name, job = _run(go(), as_json)
    ok = job.state != ocr_pb.JOB_STATE_FAILED and job.state != ocr_pb.JOB_STATE_CANCELLED
    if wait:
        ok = job.state == ocr_pb.JOB_STATE_SUCCEEDED
    if as_json:
        typer.echo(
            json.dumps({"ok": ok, "file_version": name, "job": _as_dict(job)}, ensure_ascii=False)
        )
    else:
        state = ocr_pb.JobState.Name(job.state).removeprefix("JOB_STATE_")
        typer.echo(f"{job.name}  {state}  {name}")
        if job.pages_total:
            typer.echo(
                f"  pages {job.pages_done}/{job.pages_total}, confidence {job.mean_confidence:.0f}"
            )
        for error in job.page_errors:
            typer.echo(f"  page {error.page}: {error.message}")
        if job.rendition_file_version:
            typer.echo(f"  rendition {job.rendition_file_version}")
        if job.error_message:
            typer.echo(f"  error: {job.error_message}")
    raise typer.Exit(0 if ok else 1)


def search_command(
    query: Annotated[str, typer.Argument(help='Words, or a "phrase"; diacritics optional.')],
    dossier: Annotated[str, typer.Option(help="Only this dossier (dossiers/{code}).")] = "",
    agency: Annotated[str, typer.Option(help="Only this agency code.")] = "",
    procedure: Annotated[str, typer.Option(help="Only this procedure code.")] = "",
    component: Annotated[str, typer.Option(help="Only this component type, e.g. RESULT.")] = "",
    limit: Annotated[int, typer.Option(help="Results to show.")] = 20,
    address: Address = None,
    as_json: Json = False,
) -> None:
    """Search the OCR'd text; exits 1 when nothing matches."""

    async def go() -> Any:
        async with _clients(address) as clients:
            return await clients.ocr.search(
                query,
                dossier=dossier,
                agency_code=agency,
                procedure_code=procedure,
                component_type=component,
                page_size=limit,
            )

    found = _run(go(), as_json)
    if as_json:
        answer = _as_dict(found)
        answer["ok"] = bool(found.results)
        typer.echo(json.dumps(answer, ensure_ascii=False))
    else:
        for result in found.results:
            mark = "=" if result.exact_match else "~"
            typer.echo(f"{mark} {result.file_version}  page {result.page}  ({result.score:.2f})")
            typer.echo(f"    {' '.join(result.snippet.split())}")
        typer.echo(f"{found.total_size} page(s) match", err=True)
    raise typer.Exit(0 if found.results else 1)


def ocr_worker_command(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML configuration file.")
    ] = None,
) -> None:
    """Run OCR workers in this process (scaled-out mode); gRPC health on server.port."""
    from hoso.common import telemetry
    from hoso.common.config import ConfigError, load_settings
    from hoso.common.logs import setup_logging
    from hoso.common.memory import limit_malloc_arenas
    from hoso.ocr.standalone import run_worker

    try:
        settings = load_settings(config)
    except ConfigError as e:
        typer.echo(f"hoso: {e}", err=True)
        raise typer.Exit(2) from e
    setup_logging(settings.telemetry)
    telemetry.setup(settings.telemetry)

    def ready(port: int) -> None:
        typer.echo(f"hoso ocr-worker: health on port {port}", err=True)

    limit_malloc_arenas()
    asyncio.run(run_worker(settings, on_ready=ready))


def register(app: typer.Typer) -> None:
    """Add ``ocr``, ``search`` and ``ocr-worker`` to the root command."""
    app.command("ocr")(ocr_command)
    app.command("search")(search_command)
    app.command("ocr-worker")(ocr_worker_command)
