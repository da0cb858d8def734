"""Server bootstrap shared by the three services (and by all of them in one process).

``start`` builds the runtime, applies migrations, asks each service module for its
registrations, and starts the gRPC server (health, reflection, the audit service and the
call pipeline) and the HTTP server. ``RunningServer.stop`` drains: health goes NOT_SERVING
first, in-flight calls get ``grace_seconds``, then resources close.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from hoso.common import migrate
from hoso.common.auth import Authenticator, Caller, ensure_operator_token
from hoso.common.config import SERVICE_NAMES, Settings
from hoso.common.interceptors import CallPipeline
from hoso.common.runtime import Runtime
from opentelemetry.instrumentation.grpc import aio_server_interceptor

__all__ = ["Registration", "RunningServer", "area_health_name", "serve", "start"]

log = logging.getLogger("hoso.server")


@dataclass(frozen=True)
class Registration:
    """One gRPC service a module contributes: its full name and how to add it."""

    service_name: str
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    servicer: object


def area_health_name(area: str) -> str:
    """Health-check name of a whole area (``hoso.signing``, ``hoso.storage``, ``hoso.ocr``)."""
    return f"hoso.{area}"


@dataclass
class RunningServer:
    """A started server; ``stop`` drains it."""

    server: grpc.aio.Server
    port: int
    http_port: int
    runtime: Runtime
    health: HealthServicer
    registrations: list[Registration]
    areas: list[str]
    http_runner: web.AppRunner
    _stopped: bool = field(default=False, repr=False)

    async def stop(self, grace: float | None = None) -> None:
        if self._stopped:
            return
        self._stopped = True
        await self.health.enter_graceful_shutdown()
        grace = self.runtime.settings.server.grace_seconds if grace is None else grace
        # Background work (OCR jobs) finishes while every service of this process still
        # answers, since it may call them through the loopback channel.
        drains = [
            drain(grace)
            for registration in self.registrations
            if (drain := getattr(registration.servicer, "drain", None)) is not None
        ]
        if drains:
            await asyncio.gather(*drains, return_exceptions=True)
        await self.server.stop(grace)
        for registration in self.registrations:
            close = getattr(registration.servicer, "close", None)
            if close is not None:
                await close()
        await self.http_runner.cleanup()
        await self.runtime.close()


def _credentials(settings: Settings) -> grpc.ServerCredentials | None:
    server = settings.server
    if server.tls_cert_file is None:
        return None
    root = server.tls_client_ca_file.read_bytes() if server.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(server.tls_key_file.read_bytes(), server.tls_cert_file.read_bytes())],
        root_certificates=root,
        require_client_auth=server.require_client_cert,
    )


def _authenticator(
    settings: Settings, extra_tokens: dict[str, Caller] | None, internal_token: str
) -> Authenticator:
    tokens = dict(extra_tokens or {})
    if not settings.auth.callers and not tokens:
        path = settings.auth.token_file or settings.server.data_dir / "operator.token"
        tokens[ensure_operator_token(path)] = Caller("operator", frozenset({"operator"}))
        log.info("no callers configured: operator token in %s", path)
    # services of this process calling each other (Runtime.loopback_channel)
    tokens[internal_token] = Caller("internal", frozenset({"operator"}))
    return Authenticator(settings.auth, extra_tokens=tokens)


def _bind_http(host: str, port: int) -> socket.socket:
    """Bind the HTTP listener now, so its port is known before services write URLs."""
    family, kind, protocol, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _with_bound_http_port(settings: Settings, http_port: int) -> Settings:
    """``settings`` whose ``server.public_base_url`` is explicit (empty: the bound port)."""
    server = settings.server
    resolved = server.model_copy(
        update={"public_base_url": server.effective_public_base_url(http_port)}
    )
    return settings.model_copy(update={"server": resolved})


async def _registrations(runtime: Runtime, areas: Sequence[str]) -> list[Registration]:
    from hoso.common.audit_servicer import build as build_audit

    registrations = list(await build_audit(runtime))
    for area in areas:
        module = importlib.import_module(f"hoso.{area}.service")
        registrations.extend(await module.build(runtime))
    return registrations


async def start(
    settings: Settings,
    areas: Sequence[str] = SERVICE_NAMES,
    *,
    extra_tokens: dict[str, Caller] | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> RunningServer:
    """Start the gRPC and HTTP servers for ``areas`` (``signing``, ``storage``, ``ocr``)."""
    unknown = set(areas) - set(SERVICE_NAMES)
    if unknown:
        raise ValueError(
            f"unknown service {sorted(unknown)}: choose from {', '.join(SERVICE_NAMES)}"
        )
    settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(settings)
    http_socket: socket.socket | None = None
    try:
        # The HTTP port is bound before services build: the URLs they write into certificates
        # and QR codes (public_base_url left empty) must name the port actually served.
        http_socket = _bind_http(settings.server.host, settings.server.http_port)
        runtime.http_port = http_socket.getsockname()[1]
        runtime.settings = settings = _with_bound_http_port(settings, runtime.http_port)
        if settings.database.migrate_on_start:
            await asyncio.to_thread(migrate.upgrade, runtime.database_url)
        registrations = await _registrations(runtime, areas)
        server_settings = settings.server
        server = grpc.aio.server(
            interceptors=[
                aio_server_interceptor(),
                *interceptors,
                CallPipeline(
                    _authenticator(settings, extra_tokens, runtime.internal_token),
                    default_deadline=server_settings.default_deadline_seconds,
                ),
            ],
            options=[
                ("grpc.max_receive_message_length", server_settings.max_message_bytes),
                ("grpc.max_send_message_length", server_settings.max_message_bytes),
                ("grpc.keepalive_time_ms", server_settings.keepalive_seconds * 1000),
                ("grpc.keepalive_timeout_ms", server_settings.keepalive_timeout_seconds * 1000),
                ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
            maximum_concurrent_rpcs=server_settings.max_concurrent_rpcs,
        )
        health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        for registration in registrations:
            registration.add_to_server(registration.servicer, server)
        names = [r.service_name for r in registrations]
        reflection.enable_server_reflection(
            [*names, "grpc.health.v1.Health", reflection.SERVICE_NAME], server
        )
        address = f"{server_settings.host}:{server_settings.port}"
        credentials = _credentials(settings)
        port = (
            server.add_secure_port(address, credentials)
            if credentials
            else server.add_insecure_port(address)
        )
        runtime.grpc_port = port
        runner = web.AppRunner(runtime.http, access_log=None)
        await runner.setup()
        site = web.SockSite(runner, http_socket)
        await site.start()
        http_port = runtime.http_port
        await server.start()
    except BaseException:
        if http_socket is not None:
            http_socket.close()
        await runtime.close()
        raise
    serving = health_pb2.HealthCheckResponse.SERVING
    for name in names:
        await health.set(name, serving)
    for area in areas:
        await health.set(area_health_name(area), serving)
    await health.set("", serving)
    log.info("serving %s on %s (gRPC) and port %d (HTTP)", ", ".join(areas), port, http_port)
    return RunningServer(
        server, port, http_port, runtime, health, registrations, list(areas), runner
    )


async def serve(
    settings: Settings,
    areas: Sequence[str],
    *,
    on_ready: Callable[[RunningServer], None] | None = None,
) -> None:
    """Run until SIGINT/SIGTERM, then drain gracefully."""
    running = await start(settings, areas)
    if on_ready is not None:
        on_ready(running)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down: draining in-flight calls")
    await running.stop()
