"""The ``hoso`` command: serve, check health, manage the database; areas plug in their commands.

Each area's CLI module (``hoso.cli.<name>``) exposes ``register(app)``; modules that are not
installed are skipped, so the command grows with the services.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from hoso.common.config import SERVICE_NAMES, ConfigError, load_settings

__all__ = ["app"]

app = typer.Typer(
    name="hoso",
    help="Secure document and e-signature services for one-stop-shop systems.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Catalog database: migrations.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration: check it, document it.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML configuration file (else HOSO_CONFIG).")
]

#: Area command modules, mounted when present.
COMMAND_MODULES = ("ca", "cert", "sign", "verify", "storage", "ocr", "audit", "demo")


def _settings(config: Path | None):  # type: ignore[no-untyped-def]
    try:
        return load_settings(config)
    except ConfigError as e:
        typer.echo(f"hoso: {e}", err=True)
        raise typer.Exit(2) from e


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="signing, storage, ocr or all")] = "all",
    config: ConfigOption = None,
) -> None:
    """Serve one service, or all three in one process (the embedded default)."""
    from hoso.common import telemetry
    from hoso.common.logs import setup_logging
    from hoso.common.memory import limit_malloc_arenas
    from hoso.common.server import RunningServer
    from hoso.common.server import serve as run

    limit_malloc_arenas()

    areas = list(SERVICE_NAMES) if service == "all" else [service]
    if any(area not in SERVICE_NAMES for area in areas):
        typer.echo(
            f"hoso: unknown service {service!r}: choose signing, storage, ocr or all", err=True
        )
        raise typer.Exit(2)
    settings = _settings(config)
    setup_logging(settings.telemetry)
    telemetry.setup(settings.telemetry)

    def ready(running: RunningServer) -> None:
        host = settings.server.host
        typer.echo(f"hoso serving {', '.join(areas)}", err=True)
        typer.echo(f"  gRPC  {host}:{running.port}", err=True)
        typer.echo(f"  HTTP  http://{host}:{running.http_port}/", err=True)
        typer.echo(f"  data  {settings.server.data_dir.resolve()}", err=True)

    asyncio.run(run(settings, areas, on_ready=ready))


@app.command()
def health(
    address: Annotated[str, typer.Option(help="host:port of the server")] = "127.0.0.1:50051",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.")] = 5.0,
) -> None:
    """Ask a server for the health of each service; exit 1 unless all are SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from hoso.common.server import area_health_name

    async def check() -> dict[str, str]:
        statuses: dict[str, str] = {}
        async with grpc.aio.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for area in SERVICE_NAMES:
                try:
                    answer = await stub.Check(
                        health_pb2.HealthCheckRequest(service=area_health_name(area)),
                        timeout=timeout,
                    )
                    statuses[area] = health_pb2.HealthCheckResponse.ServingStatus.Name(
                        answer.status
                    )
                except grpc.aio.AioRpcError as e:
                    statuses[area] = e.code().name
        return statuses

    statuses = asyncio.run(check())
    healthy = all(status == "SERVING" for status in statuses.values())
    if as_json:
        typer.echo(json.dumps({"address": address, "healthy": healthy, "services": statuses}))
    else:
        for area, status in statuses.items():
            typer.echo(f"{area:8} {status}")
    raise typer.Exit(0 if healthy else 1)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply every pending migration to the configured catalog database."""
    from hoso.common import migrate
    from hoso.common.db import database_url

    settings = _settings(config)
    settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    url = database_url(settings.database.url, settings.server.data_dir)
    migrate.upgrade(url)
    typer.echo(f"database at {sorted(migrate.current_heads(url))}")


@db_app.command("revision")
def db_revision(
    service: Annotated[str, typer.Option(help="common, signing, storage or ocr")],
    message: Annotated[str, typer.Option("--message", "-m", help="What the revision changes.")],
    config: ConfigOption = None,
) -> None:
    """Autogenerate a migration for one service's models (developers)."""
    from hoso.common import migrate
    from hoso.common.db import database_url

    settings = _settings(config)
    url = database_url(settings.database.url, settings.server.data_dir)
    migrate.upgrade(url)
    migrate.revision(url, service=service, message=message)


@config_app.command("check")
def config_check(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Validate the configuration; exit 2 naming the bad option."""
    settings = _settings(config)
    if as_json:
        typer.echo(json.dumps({"ok": True, "sections": sorted(type(settings).model_fields)}))
    else:
        typer.echo("configuration is valid")


@config_app.command("options")
def config_options() -> None:
    """Print the Markdown table of every option (kept in README.md)."""
    from hoso.common.config import options_table

    sys.stdout.write(options_table())


def _mount_area_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"hoso.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"hoso.cli.{name}":
                continue
            raise
        module.register(app)


_mount_area_commands()
