"""Shared plumbing of ``hoso ca`` and ``hoso cert``: calling TrustService, printing results.

Each command prints either human lines (times in Vietnam time, +07:00) or, with ``--json``,
exactly one JSON document on stdout — also on failure (``{"error": {...}}``), with a non-zero
exit code.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn, TypeVar

import typer

__all__ = [
    "VN_TIME",
    "Address",
    "Json",
    "certificate_lines",
    "certificate_summary",
    "emit",
    "fail",
    "run_trust",
    "vn_time",
]

T = TypeVar("T")

#: Vietnam time, how people read times.
VN_TIME = dt.timezone(dt.timedelta(hours=7))

Address = Annotated[
    str | None, typer.Option(help="host:port of the server (else HOSO_CLIENT_ADDRESS).")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def fail(message: str, as_json: bool, *, code: str = "FAILED", exit_code: int = 1) -> NoReturn:
    """Report a failure (stderr, or the JSON document) and exit non-zero."""
    if as_json:
        typer.echo(json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False))
    else:
        typer.echo(f"hoso: {message}", err=True)
    raise typer.Exit(exit_code)


def run_trust(address: str | None, as_json: bool, call: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``call(stub)`` against the server's TrustService; RPC errors exit non-zero."""
    import grpc
    from hoso.client.channel import connect, default_config
    from hoso.signing.v1 import trust_pb2_grpc as _pb_grpc

    async def go() -> T:
        async with connect(default_config(address=address)) as channel:
            return await call(_pb_grpc.TrustServiceStub(channel))

    try:
        return asyncio.run(go())
    except grpc.aio.AioRpcError as e:
        fail(e.details() or e.code().name, as_json, code=e.code().name)


def vn_time(timestamp: Any) -> str:
    """A protobuf ``Timestamp`` as ISO 8601 in +07:00 (empty when unset)."""
    if not timestamp.seconds and not timestamp.nanos:
        return ""
    moment = timestamp.ToDatetime(tzinfo=dt.UTC).astimezone(VN_TIME)
    return moment.replace(microsecond=0).isoformat()


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix)


def certificate_summary(certificate: Any) -> dict[str, Any]:
    """The fields of a ``Certificate`` message a person or script wants (not the DER)."""
    from hoso.signing.v1 import trust_pb2 as pb

    return {
        "name": certificate.name,
        "serial_hex": certificate.serial_hex,
        "subject": certificate.subject.rfc4514,
        "common_name": certificate.subject.common_name,
        "issuer": certificate.issuer.rfc4514,
        "profile": _enum_name(pb.CertificateProfile, certificate.profile, "CERTIFICATE_PROFILE_"),
        "state": _enum_name(pb.CertificateState, certificate.state, "CERTIFICATE_STATE_"),
        "revocation_reason": (
            _enum_name(pb.RevocationReason, certificate.revocation_reason, "REVOCATION_REASON_")
            if certificate.revocation_reason
            else ""
        ),
        "revocation_time": vn_time(certificate.revocation_time),
        "not_before": vn_time(certificate.not_before),
        "not_after": vn_time(certificate.not_after),
        "key_algorithm": _enum_name(pb.KeyAlgorithm, certificate.key_algorithm, "KEY_ALGORITHM_"),
        "key_store": _enum_name(pb.KeyStore, certificate.key_store, "KEY_STORE_"),
        "key_id": certificate.key_id,
        "sha256_fingerprint": certificate.sha256_fingerprint,
        "renewed_from": certificate.renewed_from,
    }


def emit(document: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    """Print ``document`` as JSON, or ``lines`` for a person."""
    if as_json:
        typer.echo(json.dumps(document, ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


def certificate_lines(summary: dict[str, Any]) -> list[str]:
    """Human lines describing one certificate summary."""
    lines = [
        f"{summary['name']}  {summary['profile']}  {summary['state']}",
        f"  subject   {summary['subject']}",
        f"  issuer    {summary['issuer']}",
        f"  valid     {summary['not_before']} → {summary['not_after']}",
        f"  key       {summary['key_algorithm']} in {summary['key_store']}",
        f"  sha256    {summary['sha256_fingerprint']}",
    ]
    if summary["revocation_reason"]:
        lines.append(f"  revoked   {summary['revocation_time']} ({summary['revocation_reason']})")
    return lines
