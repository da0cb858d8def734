"""``hoso sign``: sign a PDF with a credential held by the signing service.

The PDF streams to the server and the signed PDF streams back into ``-o`` (written to a
temporary name first, renamed only when complete). Exit codes: 0 signed, 1 refused by the
server (the message says why), 2 bad command line.
"""

from __future__ import annotations

import json
import os
import unicodedata
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "sign"]

_LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


def _visible(spec: str) -> tuple[int, float, float, float, float]:
    """``page,x,y,w,h`` (points from the page's lower-left corner)."""
    parts = spec.split(",")
    if len(parts) != 5:
        raise typer.BadParameter("use page,x,y,w,h (points), e.g. 1,330,150,180,70")
    try:
        page = int(parts[0])
        x, y, w, h = (float(p) for p in parts[1:])
    except ValueError as e:
        raise typer.BadParameter(f"not numbers: {spec}") from e
    if page < 1 or w <= 0 or h <= 0:
        raise typer.BadParameter("page is 1-based; width and height must be positive")
    return page, x, y, w, h


def _header(
    *,
    credential: str,
    pin: str | None,
    sad: str | None,
    level: str,
    visible: str | None,
    image: Path | None,
    seal: bool,
    field: str | None,
    reason: str | None,
    location: str | None,
    filename: str,
    request_id: str | None,
) -> Any:
    from hoso.signing.v1 import signing_pb2 as _pb

    options = _pb.SignatureOptions(
        level=_pb.PadesLevel.Value("PADES_LEVEL_" + level.replace("-", "_")),
        reason=unicodedata.normalize("NFC", reason or ""),
        location=unicodedata.normalize("NFC", location or ""),
    )
    if visible:
        page, x, y, w, h = _visible(visible)
        options.placement.new_field.CopyFrom(
            _pb.NewFieldPlacement(
                page=page,
                rect=_pb.Rectangle(x1=x, y1=y, x2=x + w, y2=y + h),
                field_name=field or "",
            )
        )
    elif field:
        options.placement.existing_field = unicodedata.normalize("NFC", field)
    if image is not None:
        png = image.read_bytes()
        if seal:
            options.appearance.kind = _pb.APPEARANCE_KIND_AGENCY_SEAL
            options.appearance.seal_image_png = png
        else:
            options.appearance.kind = _pb.APPEARANCE_KIND_OFFICIAL
            options.appearance.signature_image_png = png
    consent = _pb.Consent(sad=sad) if sad else _pb.Consent(pin=pin or "")
    name = credential if credential.startswith("credentials/") else f"credentials/{credential}"
    return _pb.SignPdfHeader(
        credential=name,
        consent=consent,
        options=options,
        filename=filename,
        request_id=request_id or str(uuid.uuid4()),
    )


def sign(
    pdf: Annotated[Path, typer.Argument(help="PDF to sign.", exists=True, dir_okay=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the signed PDF.")],
    credential: Annotated[str, typer.Option(help="Credential id or credentials/{id}.")],
    pin: Annotated[
        str | None, typer.Option(help="The credential's PIN (else HOSO_SIGN_PIN).")
    ] = None,
    sad: Annotated[
        str | None, typer.Option(help="A SAD from AuthorizeCredential bound to this PDF.")
    ] = None,
    level: Annotated[str, typer.Option(help="PAdES level: B-B, B-T, B-LT or B-LTA.")] = "B-T",
    visible: Annotated[
        str | None, typer.Option(help="New visible field: page,x,y,w,h in points.")
    ] = None,
    image: Annotated[
        Path | None, typer.Option(help="Signature image (PNG) for a visible signature.")
    ] = None,
    seal: Annotated[bool, typer.Option(help="Draw --image as the agency's red seal.")] = False,
    field: Annotated[
        str | None, typer.Option(help="Existing empty field to sign (or the new field's name).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Reason, e.g. 'Phê duyệt'.")] = None,
    location: Annotated[str | None, typer.Option(help="Location, e.g. 'Hà Nội'.")] = None,
    request_id: Annotated[
        str | None, typer.Option(help="Idempotency key (UUID); a retry returns the first PDF.")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="host:port of the server (else HOSO_CLIENT_ADDRESS).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Sign PDF with a server-held credential; the signed PDF goes to --output."""
    import asyncio

    import grpc

    level = level.upper().removeprefix("PADES-")
    if level not in _LEVELS:
        raise typer.BadParameter(f"--level must be one of {', '.join(_LEVELS)}")
    pin = pin or os.environ.get("HOSO_SIGN_PIN")
    if not pin and not sad:
        raise typer.BadParameter("give --pin (or HOSO_SIGN_PIN) or --sad")
    if image is not None and not (visible or field):
        raise typer.BadParameter("--image needs --visible or --field")
    header = _header(
        credential=credential,
        pin=pin,
        sad=sad,
        level=level,
        visible=visible,
        image=image,
        seal=seal,
        field=field,
        reason=reason,
        location=location,
        filename=pdf.name,
        request_id=request_id,
    )
    partial = output.with_name(f".{output.name}.part")

    async def call() -> Any:
        from hoso.client.channel import connect, default_config
        from hoso.client.signing import SigningClient

        channel = connect(default_config(address=address))
        try:
            with partial.open("wb") as destination:
                return await SigningClient(channel).sign_pdf_to(
                    header, pdf, destination, timeout=600
                )
        finally:
            await channel.close()

    try:
        result = asyncio.run(call())
    except grpc.aio.AioRpcError as e:
        partial.unlink(missing_ok=True)
        if as_json:
            typer.echo(
                json.dumps({"error": e.code().name, "message": e.details()}, ensure_ascii=False)
            )
        else:
            typer.echo(f"hoso sign: {e.code().name}: {e.details()}", err=True)
        raise typer.Exit(1) from e
    partial.replace(output)
    _report(result, output, as_json)


def _report(result: Any, output: Path, as_json: bool) -> None:
    from google.protobuf.json_format import MessageToDict

    data = MessageToDict(result, preserving_proto_field_name=True)
    data["output"] = str(output)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    typer.echo(
        f"signed {output} ({result.size_bytes} bytes) at "
        f"{data.get('level', '').removeprefix('PADES_LEVEL_').replace('_', '-')}, "
        f"field {result.field_name}, sha256 {result.sha256}"
    )


def register(app: typer.Typer) -> None:
    """Mount ``hoso sign`` on the ``hoso`` app."""
    app.command("sign")(sign)
