"""The sections every service shares: server, database, auth, telemetry."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from hoso.common.config import Section
from pydantic import Field, model_validator

__all__ = [
    "SECTIONS",
    "AuthSettings",
    "CallerSettings",
    "DatabaseSettings",
    "LogFormat",
    "ServerSettings",
    "TelemetrySettings",
]


class ServerSettings(Section):
    """How the gRPC and HTTP listeners run."""

    host: str = Field("127.0.0.1", description="Address the gRPC and HTTP servers listen on.")
    port: int = Field(50051, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    http_port: int = Field(
        8080,
        ge=0,
        le=65535,
        description="HTTP port for CRL, OCSP, timestamps and verification pages; 0 picks one.",
    )
    public_base_url: str = Field(
        "",
        description="Base URL at which others reach the HTTP port (written into certificates "
        "and QR codes). Empty: http://{host}:{port} with the HTTP port actually bound (so "
        "http_port = 0 works, and a wildcard host becomes 127.0.0.1); set it whenever others "
        "reach the server through another name, a proxy or TLS.",
    )
    data_dir: Path = Field(
        Path("var"),
        description="Directory for embedded state: SQLite catalog, local objects, key files.",
    )
    workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Worker processes for CPU-heavy work (OCR, verification); 0 means one per "
        "core, at most 2.",
    )
    grace_seconds: float = Field(
        10.0, ge=0, description="On shutdown, how long in-flight calls may run before cancel."
    )
    max_message_bytes: int = Field(
        4 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest single gRPC message accepted or sent (files stream in chunks).",
    )
    max_concurrent_rpcs: int = Field(
        256, ge=1, description="Calls served at once; beyond it callers get RESOURCE_EXHAUSTED."
    )
    default_deadline_seconds: float = Field(
        300.0,
        gt=0,
        description="Deadline applied to unary calls whose caller set none.",
    )
    keepalive_seconds: int = Field(60, ge=1, description="HTTP/2 keepalive ping interval.")
    keepalive_timeout_seconds: int = Field(
        20, ge=1, description="How long to wait for a keepalive answer before closing."
    )
    tls_cert_file: Path | None = Field(None, description="PEM server certificate; enables TLS.")
    tls_key_file: Path | None = Field(None, description="PEM private key of the server.")
    tls_client_ca_file: Path | None = Field(
        None, description="PEM CA bundle for client certificates; enables mTLS identities."
    )
    require_client_cert: bool = Field(
        False, description="Refuse TLS connections without a client certificate."
    )

    def effective_public_base_url(self, http_port: int | None = None) -> str:
        """``public_base_url`` without a trailing slash, or, when it is empty, the URL of the
        HTTP listener: ``http_port`` is the bound port (default: the configured one)."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        return f"http://{host}:{self.http_port if http_port is None else http_port}"

    @model_validator(mode="after")
    def _tls_pairs(self) -> ServerSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be set together")
        if self.require_client_cert and self.tls_client_ca_file is None:
            raise ValueError("require_client_cert needs tls_client_ca_file")
        return self

    def worker_count(self) -> int:
        """Worker processes to start: the option, or one per core up to 2."""
        return self.workers or min(2, os.cpu_count() or 1)


class DatabaseSettings(Section):
    """The catalog database (also holds the audit log, outbox and job queues)."""

    url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. postgresql://user@host/db; empty means SQLite in "
        "data_dir (hoso.sqlite3).",
    )
    pool_size: int = Field(5, ge=1, description="Connections kept open (PostgreSQL).")
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")
    migrate_on_start: bool = Field(
        True, description="Apply pending migrations when a server starts."
    )


class CallerSettings(Section):
    """One known caller: how it proves who it is and what it may do."""

    roles: list[str] = Field(default_factory=list, description="Role names granted.")
    token_sha256: str | None = Field(
        None, description="Hex SHA-256 of the caller's bearer token (never the token itself)."
    )
    client_cert_cn: str | None = Field(
        None, description="Common name of the caller's mTLS client certificate."
    )


class AuthSettings(Section):
    """Who may call which RPC."""

    callers: dict[str, CallerSettings] = Field(
        default_factory=dict,
        description="Known callers by name: roles plus a token hash and/or a client "
        "certificate name. Empty: an operator token is generated into data_dir.",
    )
    roles: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Extra roles: name → permission patterns such as "
        "hoso.storage.v1.ArchiveService/Get*.",
    )
    token_file: Path | None = Field(
        None,
        description="Where the generated operator token is written and the CLI reads it "
        "(default data_dir/operator.token).",
    )


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class TelemetrySettings(Section):
    """Logs, traces and metrics."""

    log_level: str = Field("INFO", description="Lowest log level written.")
    log_format: LogFormat = Field(LogFormat.JSON, description="json (one object a line) or text.")
    otlp_endpoint: str | None = Field(
        None, description="OTLP/gRPC collector, e.g. http://collector:4317; empty: no export."
    )
    service_name: str = Field("hoso", description="service.name resource attribute.")
    console_traces: bool = Field(False, description="Also print spans to stdout (debugging).")


SECTIONS: dict[str, type[Section]] = {
    "server": ServerSettings,
    "database": DatabaseSettings,
    "auth": AuthSettings,
    "telemetry": TelemetrySettings,
}
