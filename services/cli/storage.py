"""Archive commands: ``hoso dossier create|list|show``, ``hoso put``, ``get``, ``fixity``, ``export``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

dossier_app = typer.Typer(help="Dossiers (hồ sơ) in the archive.", no_args_is_help=True)
Address = Annotated[
    str | None, typer.Option(help="host:port of the server (else HOSO_CLIENT_ADDRESS)")
]
Json = Annotated[bool, typer.Option("--json", help="print JSON")]
_CHUNK = 1024 * 1024


def _stub(address: str | None) -> tuple[Any, Any]:
    import grpc
    from hoso.client.channel import default_config
    from hoso.storage.v1 import storage_pb2_grpc as _pb_grpc

    config = default_config(address=address)
    metadata = (("authorization", f"Bearer {config.token}"),) if config.token else ()

    def details(d: Any) -> Any:
        return grpc.aio.ClientCallDetails(
            d.method, d.timeout, tuple(d.metadata or ()) + metadata, d.credentials, d.wait_for_ready
        )

    # One interceptor per call kind: grpc.aio files an interceptor under one kind only.
    class _UU(grpc.aio.UnaryUnaryClientInterceptor):
        async def intercept_unary_unary(self, c: Any, d: Any, r: Any) -> Any:
            return await c(details(d), r)

    class _US(grpc.aio.UnaryStreamClientInterceptor):
        async def intercept_unary_stream(self, c: Any, d: Any, r: Any) -> Any:
            return await c(details(d), r)

    class _SU(grpc.aio.StreamUnaryClientInterceptor):
        async def intercept_stream_unary(self, c: Any, d: Any, r: Any) -> Any:
            return await c(details(d), r)

    channel = grpc.aio.insecure_channel(config.address, interceptors=[_UU(), _US(), _SU()])
    return channel, _pb_grpc.ArchiveServiceStub(channel)


def _run(coro: Any) -> Any:
    import grpc

    try:
        return asyncio.run(coro)
    except grpc.aio.AioRpcError as e:
        typer.echo(f"hoso: {e.code().name}: {e.details()}", err=True)
        raise typer.Exit(1) from e


def _show(message: Any, as_json: bool) -> None:
    from google.protobuf.json_format import MessageToDict

    data = MessageToDict(message, preserving_proto_field_name=True)
    typer.echo(json.dumps(data, ensure_ascii=False, indent=None if as_json else 2))


@dossier_app.command("create")
def dossier_create(
    code: str,
    procedure: Annotated[str, typer.Option()],
    agency: Annotated[str, typer.Option()],
    applicant: Annotated[str, typer.Option()] = "",
    title: Annotated[str, typer.Option()] = "",
    address: Address = None,
    as_json: Json = False,
) -> None:
    """Create a dossier received now."""
    from hoso.storage.v1 import storage_pb2 as pb

    async def go() -> Any:
        channel, stub = _stub(address)
        async with channel:
            d = pb.Dossier(
                dossier_code=code,
                procedure_code=procedure,
                agency_code=agency,
                applicant_id=applicant,
                title=title,
            )
            d.receive_time.FromDatetime(datetime.now(UTC))
            return (await stub.CreateDossier(pb.CreateDossierRequest(dossier=d))).dossier

    _show(_run(go()), as_json)


@dossier_app.command("list")
def dossier_list(
    procedure: Annotated[str, typer.Option()] = "",
    agency: Annotated[str, typer.Option()] = "",
    text: Annotated[str, typer.Option()] = "",
    page_size: Annotated[int, typer.Option()] = 50,
    address: Address = None,
    as_json: Json = False,
) -> None:
    """List dossiers, newest received first (one page)."""
    from hoso.storage.v1 import storage_pb2 as pb

    async def go() -> Any:
        channel, stub = _stub(address)
        async with channel:
            return await stub.ListDossiers(
                pb.ListDossiersRequest(
                    procedure_code=procedure, agency_code=agency, text=text, page_size=page_size
                )
            )

    _show(_run(go()), as_json)


@dossier_app.command("show")
def dossier_show(code: str, address: Address = None, as_json: Json = False) -> None:
    """Show a dossier and its files."""
    from hoso.storage.v1 import storage_pb2 as pb

    async def go() -> Any:
        channel, stub = _stub(address)
        async with channel:
            d = (await stub.GetDossier(pb.GetDossierRequest(name=f"dossiers/{code}"))).dossier
            files = await stub.ListFiles(pb.ListFilesRequest(dossier=d.name, include_derived=True))
            return d, files

    d, files = _run(go())
    _show(d, as_json)
    _show(files, as_json)


def put(
    file: Path,
    dossier: Annotated[str, typer.Option(help="dossier code")],
    component: Annotated[
        int,
        typer.Option(
            help="component type number (1 form, 2 identity, 3 supporting, 4 result, 5 receipt, 6 other)"
        ),
    ] = 3,
    address: Address = None,
    as_json: Json = False,
) -> None:
    """Archive FILE into a dossier, with a progress bar; the SHA-256 is checked by the server."""
    from hoso.storage.v1 import storage_pb2 as pb
    from rich.progress import Progress

    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    size = file.stat().st_size

    async def go() -> Any:
        channel, stub = _stub(address)
        async with channel:
            with Progress(transient=True, disable=as_json) as progress:
                task = progress.add_task(file.name, total=size)

                async def requests() -> AsyncIterator[pb.PutFileRequest]:
                    yield pb.PutFileRequest(
                        header=pb.PutFileHeader(
                            dossier=f"dossiers/{dossier}",
                            filename=file.name,
                            component_type=component,  # type: ignore[arg-type]
                            expected_sha256=digest.hexdigest(),
                            expected_size_bytes=size,
                        )
                    )
                    with file.open("rb") as handle:
                        for block in iter(lambda: handle.read(_CHUNK), b""):
                            yield pb.PutFileRequest(chunk=block)
                            progress.advance(task, len(block))

                return (await stub.PutFile(requests())).file_version

    _show(_run(go()), as_json)


def get(
    name: str, output: Annotated[Path, typer.Option("--output", "-o")], address: Address = None
) -> None:
    """Download a file or version NAME to OUTPUT."""
    from hoso.storage.v1 import storage_pb2 as pb

    async def go() -> None:
        channel, stub = _stub(address)
        async with channel:
            with output.open("wb") as handle:
                async for message in stub.GetFile(pb.GetFileRequest(name=name)):
                    if message.WhichOneof("payload") == "chunk":
                        handle.write(message.chunk)

    _run(go())


def fixity(name: str, address: Address = None, as_json: Json = False) -> None:
    """Re-read a version, file or dossier and compare SHA-256; exit 1 on any mismatch."""
    from hoso.storage.v1 import storage_pb2 as pb

    async def go() -> Any:
        channel, stub = _stub(address)
        async with channel:
            return await stub.VerifyFixity(pb.VerifyFixityRequest(name=name))

    report = _run(go())
    _show(report, as_json)
    if not report.ok:
        raise typer.Exit(1)


def export(
    code: str, output: Annotated[Path, typer.Option("--output", "-o")], address: Address = None
) -> None:
    """Export a dossier as a BagIt tar to OUTPUT ('-' for stdout)."""
    from hoso.storage.v1 import storage_pb2 as pb

    async def go() -> None:
        channel, stub = _stub(address)
        async with channel:
            sink = sys.stdout.buffer if str(output) == "-" else output.open("wb")
            try:
                async for message in stub.ExportDossier(
                    pb.ExportDossierRequest(name=f"dossiers/{code}")
                ):
                    if message.WhichOneof("payload") == "chunk":
                        sink.write(message.chunk)
            finally:
                if sink is not sys.stdout.buffer:
                    sink.close()

    _run(go())


def register(app: typer.Typer) -> None:
    """Mount the archive commands on the ``hoso`` app."""
    app.add_typer(dossier_app, name="dossier")
    app.command("put")(put)
    app.command("get")(get)
    app.command("fixity")(fixity)
    app.command("export")(export)
