"""Channels to hoso servers, carrying the caller's bearer token on every call."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

__all__ = ["ClientConfig", "connect", "default_config", "token_interceptors"]

_MAX_MESSAGE = 8 * 1024 * 1024


class _TokenMixin:
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = tuple(details.metadata or ()) + self._metadata
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _UnaryUnary(_TokenMixin, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStream(_TokenMixin, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnary(_TokenMixin, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _StreamStream(_TokenMixin, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


def token_interceptors(token: str) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors adding ``authorization: Bearer <token>`` to every kind of call.

    grpc.aio files an interceptor under the first call kind it implements only, so each kind
    needs its own instance.
    """
    return [_UnaryUnary(token), _UnaryStream(token), _StreamUnary(token), _StreamStream(token)]


@dataclass(frozen=True)
class ClientConfig:
    """Where a client connects and how it proves who it is."""

    address: str = "127.0.0.1:50051"
    token: str | None = None
    root_certificates: Path | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None


def default_config(
    *, address: str | None = None, token: str | None = None, data_dir: Path | None = None
) -> ClientConfig:
    """Config from arguments, then ``HOSO_CLIENT_ADDRESS`` / ``HOSO_CLIENT_TOKEN``, then the
    operator token file the embedded server writes (``HOSO_CLIENT_TOKEN_FILE``, else where the
    same configuration puts it: ``auth.token_file`` or ``server.data_dir/operator.token``)."""
    token = token or os.environ.get("HOSO_CLIENT_TOKEN")
    if not token:
        configured = os.environ.get("HOSO_CLIENT_TOKEN_FILE")
        token_file = Path(configured) if configured else _operator_token_file(data_dir)
        if token_file.exists():
            token = token_file.read_text().strip()
    return ClientConfig(
        address=address or os.environ.get("HOSO_CLIENT_ADDRESS", "127.0.0.1:50051"), token=token
    )


def _operator_token_file(data_dir: Path | None) -> Path:
    """Where ``hoso serve`` with this process's configuration writes its operator token."""
    if data_dir is not None:
        return data_dir / "operator.token"
    from hoso.common.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError:
        return Path("var") / "operator.token"  # a broken config is the server's to report
    return settings.auth.token_file or settings.server.data_dir / "operator.token"


def connect(
    config: ClientConfig, *, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()
) -> grpc.aio.Channel:
    """An aio channel to ``config.address`` with the token interceptor installed."""
    # the caller's trace context travels in each call's metadata (no-op while tracing is off)
    chain: list[grpc.aio.ClientInterceptor] = [*interceptors, *aio_client_interceptors()]
    if config.token:
        chain.extend(token_interceptors(config.token))
    options = [
        ("grpc.max_receive_message_length", _MAX_MESSAGE),
        ("grpc.max_send_message_length", _MAX_MESSAGE),
    ]
    if config.root_certificates:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=config.root_certificates.read_bytes(),
            private_key=config.client_key.read_bytes() if config.client_key else None,
            certificate_chain=config.client_certificate.read_bytes()
            if config.client_certificate
            else None,
        )
        return grpc.aio.secure_channel(
            config.address, credentials, options=options, interceptors=chain
        )
    return grpc.aio.insecure_channel(config.address, options=options, interceptors=chain)
