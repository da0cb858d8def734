"""``hoso ca``: the certificate authority — create it, show it, import an existing one.

``init`` (and ``import --local``) work on the configured catalog and key store directly,
on the server host, without a running server; ``show`` and ``import`` ask the server.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from hoso.cli.trust_output import (
    Address,
    Json,
    certificate_lines,
    certificate_summary,
    emit,
    fail,
    run_trust,
)

__all__ = ["register"]

ca_app = typer.Typer(help="The certificate authority (root and issuing CA).", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML configuration file (else HOSO_CONFIG).")
]


def _settings(config: Path | None, as_json: bool) -> Any:
    from hoso.common.config import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as e:
        fail(str(e), as_json, code="CONFIG", exit_code=2)


def _local_summary(material: Any) -> dict[str, Any]:
    from cryptography.hazmat.primitives import hashes

    certificate = material.certificate
    return {
        "name": f"certificates/{certificate.serial_number:x}",
        "serial_hex": f"{certificate.serial_number:x}",
        "subject": certificate.subject.rfc4514_string(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "key_algorithm": material.key.algorithm.value,
        "sha256_fingerprint": certificate.fingerprint(hashes.SHA256()).hex(),
    }


@ca_app.command("init")
def ca_init(config: ConfigOption = None, as_json: Json = False) -> None:
    """Create the root and issuing CA in the configured catalog and key store (once).

    Runs locally with the server's settings; when a CA already exists it is shown, not
    replaced (exit 0, ``"created": false``).
    """
    from hoso.common.errors import HosoError
    from hoso.signing.trust.admin import local_trust_services

    settings = _settings(config, as_json)

    async def go() -> tuple[bool, Any, dict[str, str]]:
        async with local_trust_services(settings) as services:
            existed = await services.find_authority() is not None
            authority = await services.authority()
            return not existed, authority, services.pki_urls

    try:
        created, authority, urls = asyncio.run(go())
    except HosoError as e:
        fail(e.message, as_json, code=e.code.name)
    document: dict[str, Any] = {
        "created": created,
        "root": _local_summary(authority.root),
        "issuing": _local_summary(authority.issuing),
        "urls": urls,
    }
    verb = "created" if created else "already exists"
    emit(
        document,
        as_json,
        [
            f"CA {verb}",
            f"  root     {document['root']['subject']}  ({document['root']['name']})",
            f"  issuing  {document['issuing']['subject']}  ({document['issuing']['name']})",
            f"  CRL      {urls['crl']}",
            f"  OCSP     {urls['ocsp']}",
        ],
    )


@ca_app.command("show")
def ca_show(
    address: Address = None,
    as_json: Json = False,
    pem: Annotated[bool, typer.Option("--pem", help="Also print the chain in PEM.")] = False,
) -> None:
    """Show the root and issuing CA the server issues under, and its public URLs."""
    from hoso.signing.v1 import trust_pb2 as pb

    answer = run_trust(
        address,
        as_json,
        lambda stub: stub.GetCertificateAuthority(pb.GetCertificateAuthorityRequest()),
    )
    root = certificate_summary(answer.root_certificate)
    issuing = certificate_summary(answer.issuing_certificate)
    document = {
        "root": root,
        "issuing": issuing,
        "crl_urls": list(answer.crl_urls),
        "ocsp_urls": list(answer.ocsp_urls),
        "ca_issuers_url": answer.ca_issuers_url,
        "tsa_url": answer.tsa_url,
        "chain_pem": answer.chain_pem,
    }
    lines = ["Root CA", *certificate_lines(root), "Issuing CA", *certificate_lines(issuing)]
    lines += [
        f"CRL        {', '.join(answer.crl_urls)}",
        f"OCSP       {', '.join(answer.ocsp_urls)}",
        f"caIssuers  {answer.ca_issuers_url}",
        f"TSA        {answer.tsa_url}",
    ]
    if pem:
        lines.append(answer.chain_pem.rstrip("\n"))
    emit(document, as_json, lines)


def _read(path: Path, as_json: bool) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}", as_json, code="INVALID_ARGUMENT", exit_code=2)
    return data


@ca_app.command("import")
def ca_import(
    root_cert: Annotated[
        Path, typer.Option("--root-cert", help="Root CA certificate, PEM or DER.")
    ],
    issuing_cert: Annotated[
        Path, typer.Option("--issuing-cert", help="Issuing CA certificate, PEM or DER.")
    ],
    issuing_key: Annotated[
        Path | None,
        typer.Option("--issuing-key", help="Issuing CA private key, PKCS#8 PEM or DER."),
    ] = None,
    passphrase_env: Annotated[
        str | None,
        typer.Option(
            "--passphrase-env",
            help="Name of the environment variable holding the key's passphrase.",
        ),
    ] = None,
    key_id: Annotated[
        str, typer.Option(help="PKCS#11 key id of an issuing key already on the HSM token.")
    ] = "",
    replace: Annotated[
        bool, typer.Option(help="Retire the CA in service and use this one.")
    ] = False,
    local: Annotated[
        bool,
        typer.Option(help="Import into the configured catalog directly (no server needed)."),
    ] = False,
    config: ConfigOption = None,
    address: Address = None,
    as_json: Json = False,
) -> None:
    """Import an existing root + issuing CA (the root's key stays offline)."""
    passphrase = ""
    if passphrase_env:
        if passphrase_env not in os.environ:
            fail(f"environment variable {passphrase_env} is not set", as_json, exit_code=2)
        passphrase = os.environ[passphrase_env]
    root = _read(root_cert, as_json)
    issuing = _read(issuing_cert, as_json)
    key = _read(issuing_key, as_json) if issuing_key else b""
    if local:
        document = _import_locally(
            config, as_json, root=root, issuing=issuing, key=key, passphrase=passphrase,
            key_id=key_id, replace=replace,
        )  # fmt: skip
    else:
        from hoso.signing.v1 import trust_pb2 as pb

        request = pb.ImportCertificateAuthorityRequest(
            root_certificate=root,
            issuing_certificate=issuing,
            issuing_private_key=key,
            private_key_passphrase=passphrase,
            key_id=key_id,
            replace=replace,
        )
        answer = run_trust(address, as_json, lambda stub: stub.ImportCertificateAuthority(request))
        document = {
            "root": certificate_summary(answer.root_certificate),
            "issuing": certificate_summary(answer.issuing_certificate),
        }
    emit(
        document,
        as_json,
        [
            "CA imported",
            f"  root     {document['root']['subject']}  ({document['root']['name']})",
            f"  issuing  {document['issuing']['subject']}  ({document['issuing']['name']})",
        ],
    )


def _import_locally(
    config: Path | None,
    as_json: bool,
    *,
    root: bytes,
    issuing: bytes,
    key: bytes,
    passphrase: str,
    key_id: str,
    replace: bool,
) -> dict[str, Any]:
    from hoso.common.errors import HosoError
    from hoso.signing.trust.admin import local_trust_services

    settings = _settings(config, as_json)

    async def go() -> Any:
        async with local_trust_services(settings) as services:
            return await services.import_authority(
                root_certificate=root,
                issuing_certificate=issuing,
                issuing_private_key=key,
                passphrase=passphrase or None,
                key_id=key_id,
                replace=replace,
            )

    try:
        authority = asyncio.run(go())
    except HosoError as e:
        fail(e.message, as_json, code=e.code.name)
    return {"root": _local_summary(authority.root), "issuing": _local_summary(authority.issuing)}


def register(app: typer.Typer) -> None:
    """Mount ``hoso ca`` on the root command."""
    app.add_typer(ca_app, name="ca")
