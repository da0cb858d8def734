"""``hoso verify file.pdf``: verify a signed PDF and print the report.

Locally by default (anchors from ``--anchor``); with ``--remote`` the server verifies it
(``--address`` or ``HOSO_CLIENT_ADDRESS``) against its trust profile ``--profile`` (the
server's default profile when not given).

The exit code reflects the verdict: 0 only for VALID; 2 INVALID, 3 MODIFIED, 4 INDETERMINATE,
5 UNSIGNED, 6 when the file cannot be verified at all (not a PDF, encrypted, over a limit,
unknown profile), 7 when the server cannot be reached or fails.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from hoso.signing.verify.engine import VerifyOptions, verify_pdf
from hoso.signing.verify.errors import VerifyRefused
from hoso.signing.verify.findings import Verdict
from hoso.signing.verify.profiles import ProfileKind, TrustProfile, parse_anchor
from hoso.signing.verify.report_json import to_etsi_dict
from hoso.signing.verify.report_text import render_text

__all__ = ["EXIT_CODES", "EXIT_REFUSED", "EXIT_SERVER", "register", "verify"]

EXIT_CODES: dict[Verdict, int] = {
    Verdict.VALID: 0,
    Verdict.INVALID: 2,
    Verdict.MODIFIED: 3,
    Verdict.INDETERMINATE: 4,
    Verdict.UNSIGNED: 5,
}
EXIT_REFUSED = 6
EXIT_SERVER = 7
_VERDICT_OF_PB = {
    1: Verdict.VALID,
    2: Verdict.MODIFIED,
    3: Verdict.INVALID,
    4: Verdict.INDETERMINATE,
    5: Verdict.UNSIGNED,
}


def _refused(as_json: bool, status: str, message: str, code: int) -> typer.Exit:
    if as_json:
        typer.echo(json.dumps({"error": status, "message": message}, ensure_ascii=False))
    else:
        typer.echo(f"{status}: {message}", err=True)
    return typer.Exit(code)


def _verify_remote(
    file: Path, *, profile: str | None, lang: str, online: bool, address: str | None
) -> tuple[int, str, str]:
    """(verdict exit code, JSON report, human report) from the server."""
    import asyncio

    from hoso.client.channel import connect, default_config
    from hoso.client.signing import VerificationClient
    from hoso.signing.v1 import verification_pb2 as _pb

    name = ""
    if profile:
        name = profile if profile.startswith("trustProfiles/") else f"trustProfiles/{profile}"

    async def call() -> _pb.VerificationReport:
        channel = connect(default_config(address=address))
        try:
            return await VerificationClient(channel).verify_pdf(
                file,
                filename=file.name,
                language=_pb.REPORT_LANGUAGE_EN if lang == "en" else _pb.REPORT_LANGUAGE_VI,
                trust_profile=name,
                allow_online_fetch=online,
                timeout=300,
            )
        finally:
            await channel.close()

    report = asyncio.run(call())
    verdict = _VERDICT_OF_PB.get(report.verdict, Verdict.INVALID)
    return EXIT_CODES[verdict], report.json_report, report.human_report


def verify(
    file: Annotated[
        Path,
        typer.Argument(
            help="The signed PDF to verify.", exists=True, dir_okay=False, readable=True
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the ETSI-shaped JSON report.")
    ] = False,
    lang: Annotated[str, typer.Option("--lang", help="Report language: vi or en.")] = "vi",
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Trust profile: with --remote, the server's profile id (its default when "
            "omitted); locally, only the name shown in the report.",
        ),
    ] = None,
    anchor: Annotated[
        list[Path] | None,
        typer.Option(
            "--anchor",
            help="Trust anchor certificate (DER or PEM); repeatable.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    online: Annotated[
        bool, typer.Option("--online", help="Fetch missing OCSP/CRL data over the network.")
    ] = False,
    remote: Annotated[
        bool, typer.Option("--remote", help="Let the server verify (VerificationService).")
    ] = False,
    address: Annotated[
        str | None,
        typer.Option("--address", help="host:port of the server (else HOSO_CLIENT_ADDRESS)."),
    ] = None,
) -> None:
    """Verify every signature in FILE and print the report; the exit code is the verdict."""
    if lang not in ("vi", "en"):
        raise typer.BadParameter("use vi or en", param_hint="--lang")
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    if remote:
        if anchor:
            raise typer.BadParameter(
                "the server uses its trust profiles; choose one with --profile",
                param_hint="--anchor",
            )
        import grpc

        try:
            code, json_report, human_report = _verify_remote(
                file, profile=profile, lang=lang, online=online, address=address
            )
        except grpc.RpcError as e:
            status = e.code()  # type: ignore[attr-defined]
            refused = status in (
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.FAILED_PRECONDITION,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                grpc.StatusCode.NOT_FOUND,
            )
            raise _refused(
                as_json,
                status.name,
                e.details() or status.name,  # type: ignore[attr-defined]
                EXIT_REFUSED if refused else EXIT_SERVER,
            ) from e
        typer.echo(json_report if as_json else human_report, nl=not human_report or as_json)
        raise typer.Exit(code)
    try:
        anchors = tuple(parse_anchor(p.read_bytes()).dump() for p in anchor or [])
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--anchor") from e
    trust = TrustProfile(profile or "custom", anchors, kind=ProfileKind.CUSTOM)
    try:
        result = verify_pdf(
            file.read_bytes(), trust, VerifyOptions(allow_fetching=online), file_name=file.name
        )
    except VerifyRefused as e:
        raise _refused(as_json, e.status, e.message, EXIT_REFUSED) from e
    if as_json:
        typer.echo(json.dumps(to_etsi_dict(result, lang), ensure_ascii=False, indent=2))  # type: ignore[arg-type]
    else:
        typer.echo(render_text(result, lang), nl=False)  # type: ignore[arg-type]
    raise typer.Exit(EXIT_CODES[result.verdict])


def register(app: typer.Typer) -> None:
    """Mount ``hoso verify`` on the ``hoso`` app."""
    app.command("verify")(verify)
