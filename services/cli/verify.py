"""``hoso verify file.pdf``: verify a signed PDF locally and print the report.

The exit code reflects the verdict: 0 only for VALID; 2 INVALID, 3 MODIFIED, 4 INDETERMINATE,
5 UNSIGNED, 6 when the file cannot be verified at all (not a PDF, encrypted, over a limit).
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

__all__ = ["EXIT_CODES", "register", "verify"]

EXIT_CODES: dict[Verdict, int] = {
    Verdict.VALID: 0,
    Verdict.INVALID: 2,
    Verdict.MODIFIED: 3,
    Verdict.INDETERMINATE: 4,
    Verdict.UNSIGNED: 5,
}
EXIT_REFUSED = 6


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
        str, typer.Option("--profile", help="Name of the trust profile.")
    ] = "custom",
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
) -> None:
    """Verify every signature in FILE and print the report; the exit code is the verdict."""
    if lang not in ("vi", "en"):
        raise typer.BadParameter("use vi or en", param_hint="--lang")
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    try:
        anchors = tuple(parse_anchor(p.read_bytes()).dump() for p in anchor or [])
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--anchor") from e
    trust = TrustProfile(profile, anchors, kind=ProfileKind.CUSTOM)
    try:
        result = verify_pdf(
            file.read_bytes(), trust, VerifyOptions(allow_fetching=online), file_name=file.name
        )
    except VerifyRefused as e:
        if as_json:
            typer.echo(json.dumps({"error": e.status, "message": e.message}, ensure_ascii=False))
        else:
            typer.echo(f"{e.status}: {e.message}", err=True)
        raise typer.Exit(EXIT_REFUSED) from e
    if as_json:
        typer.echo(json.dumps(to_etsi_dict(result, lang), ensure_ascii=False, indent=2))  # type: ignore[arg-type]
    else:
        typer.echo(render_text(result, lang), nl=False)  # type: ignore[arg-type]
    raise typer.Exit(EXIT_CODES[result.verdict])


def register(app: typer.Typer) -> None:
    """Mount ``hoso verify`` on the ``hoso`` app."""
    app.command("verify")(verify)
