"""``hoso ca`` and ``hoso cert`` against a real server (and ``ca init`` on a local catalog)."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hoso.cli.main import app
from typer.testing import CliRunner, Result

from tests.fixtures.external_ca import PASSPHRASE, ExternalCa, certificate_pem, key_pem
from tests.fixtures.grpc_server import TOKENS

pytestmark = pytest.mark.asyncio

PASSPHRASE_SETTINGS = {"signing": {"key_passphrase": "cli test passphrase"}}


async def hoso(*args: str, server: Any = None, role: str = "operator", **env: str) -> Result:
    """Run ``hoso ARGS`` in a thread (the server under test runs on this event loop)."""
    environment = {"HOSO_CLIENT_TOKEN": TOKENS[role]} | env
    if server is not None:
        environment["HOSO_CLIENT_ADDRESS"] = server.address
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, app, list(args), env=environment)


def _json(result: Result) -> dict[str, Any]:
    assert result.stdout.count("\n") == 1, result.stdout  # exactly one JSON document
    return json.loads(result.stdout)


async def test_issue_list_revoke_export(start_server, database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=PASSPHRASE_SETTINGS)
    decomposed = unicodedata.normalize("NFD", "Nguyễn Văn An")

    result = await hoso(
        "cert", "issue", "--profile", "official", "--cn", decomposed, "--org", "UBND Quận Ba Đình",
        "--generate-key", "RSA_2048", "--json", server=server,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    official = _json(result)["certificate"]
    assert official["common_name"] == "Nguyễn Văn An"  # NFC whatever the terminal sent
    assert official["profile"] == "OFFICIAL" and official["state"] == "ACTIVE"
    assert official["key_algorithm"] == "RSA_2048" and official["key_store"] == "SOFTWARE"
    assert official["not_after"].endswith("+07:00")

    csr_key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ignored")]))
        .sign(csr_key, hashes.SHA256())
    )
    (tmp_path / "seal.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    result = await hoso(
        "cert", "issue", "--profile", "agency-seal", "--cn", "UBND Phường Điện Biên",
        "--csr", str(tmp_path / "seal.csr"), "-o", str(tmp_path / "seal.pem"), "--json",
        server=server,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    seal = _json(result)["certificate"]
    assert seal["key_store"] == "EXTERNAL" and seal["common_name"] == "UBND Phường Điện Biên"
    written = x509.load_pem_x509_certificates((tmp_path / "seal.pem").read_bytes())
    assert len(written) == 3 and written[0].public_key() == csr_key.public_key()

    # Human output names the certificate; list filters by profile and state.
    result = await hoso("cert", "list", "--profile", "official", server=server)
    assert result.exit_code == 0 and official["serial_hex"] in result.stdout
    assert seal["serial_hex"] not in result.stdout
    result = await hoso("cert", "list", "--json", server=server)
    listed = {c["serial_hex"] for c in _json(result)["certificates"]}
    assert {official["serial_hex"], seal["serial_hex"]} <= listed

    result = await hoso(
        "cert", "revoke", official["serial_hex"], "--reason", "key-compromise", "--json",
        server=server,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    revoked = _json(result)["certificate"]
    assert revoked["state"] == "REVOKED" and revoked["revocation_reason"] == "KEY_COMPROMISE"
    result = await hoso("cert", "list", "--state", "revoked", "--json", server=server)
    assert [c["serial_hex"] for c in _json(result)["certificates"]] == [official["serial_hex"]]

    # Revoking again fails with the server's reason, as one JSON document and exit 1.
    result = await hoso(
        "cert", "revoke", official["name"], "--reason", "superseded", "--json", server=server
    )
    assert result.exit_code == 1
    assert _json(result)["error"]["code"] == "FAILED_PRECONDITION"
    result = await hoso("cert", "revoke", "abcdef", "--reason", "superseded", server=server)
    assert result.exit_code == 1 and "no certificate with serial abcdef" in result.stderr

    result = await hoso(
        "cert", "export", seal["serial_hex"], "--chain", "-o", str(tmp_path / "chain.pem"),
        "--json", server=server,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _json(result)["bytes"] == (tmp_path / "chain.pem").stat().st_size
    chain = x509.load_pem_x509_certificates((tmp_path / "chain.pem").read_bytes())
    chain[0].verify_directly_issued_by(chain[1])
    chain[1].verify_directly_issued_by(chain[2])
    result = await hoso(
        "cert", "export", seal["serial_hex"], "--format", "der", "-o", str(tmp_path / "seal.der"),
        server=server,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert x509.load_der_x509_certificate((tmp_path / "seal.der").read_bytes()) == written[0]
    result = await hoso(
        "cert", "export", seal["serial_hex"], "--format", "der", "--chain", "-o", "x", server=server
    )
    assert result.exit_code == 2 and "DER holds one certificate" in result.stderr


async def test_bad_inputs_and_refusals_exit_non_zero(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=PASSPHRASE_SETTINGS)
    result = await hoso(
        "cert", "issue", "--cn", "X", "--personal-id", "12", "--json", server=server
    )  # fmt: skip
    assert result.exit_code == 1
    error = _json(result)["error"]
    assert error["code"] == "INVALID_ARGUMENT" and "personal_id" in error["message"]
    result = await hoso("cert", "issue", "--cn", "Lê Văn Tám", "--json", server=server, role="dms")
    assert result.exit_code == 1 and _json(result)["error"]["code"] == "PERMISSION_DENIED"
    result = await hoso("cert", "issue", "--cn", "Lê Văn Tám", server=server, role="dms")
    assert result.exit_code == 1 and result.stdout == "" and result.stderr.startswith("hoso: ")
    result = await hoso("cert", "revoke", "not-hex", "--reason", "superseded", server=server)
    assert result.exit_code == 2 and "not a serial number" in result.stderr
    result = await hoso("cert", "list", "--json", HOSO_CLIENT_ADDRESS="127.0.0.1:1")
    assert result.exit_code == 1 and _json(result)["error"]["code"] == "UNAVAILABLE"
    (tmp_path / "bad.csr").write_bytes(b"not a csr")
    result = await hoso(
        "cert", "issue", "--cn", "X", "--csr", str(tmp_path / "bad.csr"), server=server
    )
    assert result.exit_code == 1 and "PKCS#10" in result.stderr


async def test_ca_init_locally_then_served_show_and_import(
    start_server, database_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "ca-data"
    catalog = database_url
    config = tmp_path / "hoso.toml"
    config.write_text(
        f'[server]\ndata_dir = "{data_dir}"\nhttp_port = 8443\n'
        f'[database]\nurl = "{catalog}"\n'
        '[signing]\nkey_passphrase = "cli test passphrase"\n'
    )
    result = await hoso("ca", "init", "-c", str(config), "--json")
    assert result.exit_code == 0, result.output
    created = _json(result)
    assert created["created"] is True
    assert created["urls"]["ocsp"] == "http://127.0.0.1:8443/pki/ocsp"
    result = await hoso("ca", "init", "-c", str(config), "--json")
    again = _json(result)
    assert again["created"] is False and again["issuing"] == created["issuing"]

    # The server started on that catalog and key store serves the CA `ca init` made.
    server = await start_server(
        ["signing"], overrides=PASSPHRASE_SETTINGS, database_url=catalog, data_dir=data_dir
    )
    result = await hoso("ca", "show", "--json", server=server)
    assert result.exit_code == 0, result.output
    shown = _json(result)
    assert shown["issuing"]["serial_hex"] == created["issuing"]["serial_hex"]
    assert shown["root"]["sha256_fingerprint"] == created["root"]["sha256_fingerprint"]
    result = await hoso("ca", "show", server=server)
    assert "Issuing CA" in result.stdout and created["issuing"]["subject"] in result.stdout

    external = ExternalCa("Nhập qua CLI")
    for name, data in (
        ("root.pem", certificate_pem(external.root)),
        ("issuing.pem", certificate_pem(external.issuing)),
        ("issuing.key", key_pem(external.issuing_key)),
    ):
        (tmp_path / name).write_bytes(data)
    files = [
        "--root-cert", str(tmp_path / "root.pem"), "--issuing-cert", str(tmp_path / "issuing.pem"),
        "--issuing-key", str(tmp_path / "issuing.key"), "--passphrase-env", "CA_KEY_PASSPHRASE",
    ]  # fmt: skip
    result = await hoso("ca", "import", *files, "--json", server=server)
    assert result.exit_code == 2, "the passphrase variable is not set"
    assert "CA_KEY_PASSPHRASE is not set" in _json(result)["error"]["message"]
    result = await hoso(
        "ca", "import", *files, "--json", server=server, CA_KEY_PASSPHRASE=PASSPHRASE
    )
    assert result.exit_code == 1
    assert _json(result)["error"]["code"] == "FAILED_PRECONDITION"
    result = await hoso(
        "ca", "import", *files, "--replace", "--json", server=server, CA_KEY_PASSPHRASE=PASSPHRASE
    )
    assert result.exit_code == 0, result.output
    imported = _json(result)
    assert imported["issuing"]["serial_hex"] == format(external.issuing.serial_number, "x")
    result = await hoso("ca", "show", "--json", server=server)
    assert _json(result)["issuing"]["serial_hex"] == imported["issuing"]["serial_hex"]
