"""``hoso cert``: issue, list, revoke and export certificates through the server's TrustService."""

from __future__ import annotations

import enum
import sys
import unicodedata
import uuid
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

cert_app = typer.Typer(help="Certificates issued by the CA.", no_args_is_help=True)


class ProfileChoice(enum.StrEnum):
    official = "official"
    agency_seal = "agency-seal"
    tsa = "tsa"
    ocsp_responder = "ocsp-responder"


class KeyChoice(enum.StrEnum):
    RSA_2048 = "RSA_2048"
    RSA_3072 = "RSA_3072"
    EC_P256 = "EC_P256"
    EC_P384 = "EC_P384"


class StateChoice(enum.StrEnum):
    active = "active"
    revoked = "revoked"
    suspended = "suspended"


class ReasonChoice(enum.StrEnum):
    unspecified = "unspecified"
    key_compromise = "key-compromise"
    ca_compromise = "ca-compromise"
    affiliation_changed = "affiliation-changed"
    superseded = "superseded"
    cessation_of_operation = "cessation-of-operation"
    privilege_withdrawn = "privilege-withdrawn"


class FormatChoice(enum.StrEnum):
    pem = "pem"
    der = "der"


def _profile(choice: ProfileChoice) -> int:
    from hoso.signing.v1 import trust_pb2 as pb

    return int(pb.CertificateProfile.Value(f"CERTIFICATE_PROFILE_{choice.name.upper()}"))


def _name_of(serial: str, as_json: bool) -> str:
    """``certificates/{serial}`` from a serial in hex (``certificates/`` and colons allowed)."""
    value = serial.removeprefix("certificates/").replace(":", "").lower()
    try:
        int(value, 16)
    except ValueError:
        fail(
            f"{serial!r} is not a serial number in hex",
            as_json,
            code="INVALID_ARGUMENT",
            exit_code=2,
        )
    return f"certificates/{value.lstrip('0') or '0'}"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@cert_app.command("issue")
def cert_issue(
    cn: Annotated[str, typer.Option("--cn", help='Common name, e.g. "Nguyễn Văn An".')],
    profile: Annotated[ProfileChoice, typer.Option(help="What the certificate is for.")] = (
        ProfileChoice.official
    ),
    organization: Annotated[str, typer.Option("--org", help="Organisation (O).")] = "",
    unit: Annotated[str, typer.Option("--ou", help="Organisational unit (OU).")] = "",
    locality: Annotated[str, typer.Option(help="Locality (L).")] = "",
    province: Annotated[str, typer.Option(help="Province (ST).")] = "",
    country: Annotated[str, typer.Option(help="Country (C); the server defaults to VN.")] = "",
    email: Annotated[str, typer.Option(help="E-mail, also in subjectAltName.")] = "",
    personal_id: Annotated[str, typer.Option(help="CCCD number (12 digits) of an official.")] = "",
    tax_code: Annotated[str, typer.Option(help="Tax code (MST) of an organisation.")] = "",
    csr: Annotated[
        Path | None, typer.Option(help="PKCS#10 request (PEM or DER): the key stays yours.")
    ] = None,
    generate_key: Annotated[
        KeyChoice | None,
        typer.Option(help="Generate the key in the server's key store (default EC_P256)."),
    ] = None,
    validity_days: Annotated[int, typer.Option(help="Lifetime; 0 = the server default.")] = 0,
    request_id: Annotated[
        str, typer.Option(help="Idempotency key: a retry with it returns the first certificate.")
    ] = "",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the certificate and chain (PEM).")
    ] = None,
    address: Address = None,
    as_json: Json = False,
) -> None:
    """Issue a certificate from a CSR, or with a key generated in the server's key store."""
    from hoso.signing.v1 import trust_pb2 as pb

    if csr is not None and generate_key is not None:
        fail(
            "give --csr or --generate-key, not both", as_json, code="INVALID_ARGUMENT", exit_code=2
        )
    subject = pb.DistinguishedName(
        common_name=_nfc(cn),
        organization=_nfc(organization),
        organizational_unit=_nfc(unit),
        locality=_nfc(locality),
        province=_nfc(province),
        country=country,
        email=email,
        personal_id=personal_id,
        tax_code=tax_code,
    )
    request = pb.IssueCertificateRequest(
        profile=_profile(profile),  # type: ignore[arg-type]
        subject=subject,
        validity_days=validity_days,
        request_id=request_id or str(uuid.uuid4()),
    )
    if csr is not None:
        try:
            request.csr.csr = csr.read_bytes()
        except OSError as e:
            fail(f"cannot read {csr}: {e.strerror}", as_json, code="INVALID_ARGUMENT", exit_code=2)
    else:
        algorithm = generate_key or KeyChoice.EC_P256
        request.generated_key.key_algorithm = pb.KeyAlgorithm.Value(
            f"KEY_ALGORITHM_{algorithm.value}"
        )
    answer = run_trust(address, as_json, lambda stub: stub.IssueCertificate(request))
    summary = certificate_summary(answer.certificate)
    if out is not None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        leaf = x509.load_der_x509_certificate(answer.certificate.der)
        out.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + answer.chain_pem.encode())
        summary["file"] = str(out)
    emit({"certificate": summary}, as_json, ["issued", *certificate_lines(summary)])


@cert_app.command("list")
def cert_list(
    profile: Annotated[ProfileChoice | None, typer.Option(help="Only this profile.")] = None,
    state: Annotated[StateChoice | None, typer.Option(help="Only this state.")] = None,
    subject: Annotated[str, typer.Option(help="Only subjects containing this text.")] = "",
    limit: Annotated[int, typer.Option(min=1, help="At most this many certificates.")] = 200,
    address: Address = None,
    as_json: Json = False,
) -> None:
    """List certificates (following pages up to --limit)."""
    from hoso.signing.v1 import trust_pb2 as pb

    async def collect(stub: Any) -> list[Any]:
        found: list[Any] = []
        token = ""
        while len(found) < limit:
            page = await stub.ListCertificates(
                pb.ListCertificatesRequest(
                    profile=_profile(profile) if profile else 0,  # type: ignore[arg-type]
                    state=pb.CertificateState.Value(f"CERTIFICATE_STATE_{state.name.upper()}")
                    if state
                    else 0,
                    subject_contains=_nfc(subject),
                    page_size=min(limit - len(found), 500),
                    page_token=token,
                )
            )
            found.extend(page.certificates)
            token = page.next_page_token
            if not token:
                break
        return found[:limit]

    certificates = [certificate_summary(c) for c in run_trust(address, as_json, collect)]
    lines = [
        f"{c['serial_hex']:<40} {c['profile']:<15} {c['state']:<10} {c['not_after']:<25} "
        f"{c['subject']}"
        for c in certificates
    ]
    emit({"certificates": certificates}, as_json, lines or ["no certificates"])


@cert_app.command("revoke")
def cert_revoke(
    serial: Annotated[str, typer.Argument(help="Serial number in hex (or certificates/{serial}).")],
    reason: Annotated[ReasonChoice, typer.Option(help="RFC 5280 revocation reason.")],
    request_id: Annotated[str, typer.Option(help="Idempotency key.")] = "",
    address: Address = None,
    as_json: Json = False,
) -> None:
    """Revoke a certificate for good: the CRL and OCSP say so at once."""
    from hoso.signing.v1 import trust_pb2 as pb

    request = pb.RevokeCertificateRequest(
        name=_name_of(serial, as_json),
        reason=pb.RevocationReason.Value(
            "REVOCATION_REASON_UNSPECIFIED_REASON"
            if reason is ReasonChoice.unspecified
            else f"REVOCATION_REASON_{reason.name.upper()}"
        ),
        request_id=request_id,
    )
    answer = run_trust(address, as_json, lambda stub: stub.RevokeCertificate(request))
    summary = certificate_summary(answer.certificate)
    emit({"certificate": summary}, as_json, ["revoked", *certificate_lines(summary)])


@cert_app.command("export")
def cert_export(
    serial: Annotated[str, typer.Argument(help="Serial number in hex (or certificates/{serial}).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write; - for stdout.")],
    encoding: Annotated[FormatChoice, typer.Option("--format", help="pem or der.")] = (
        FormatChoice.pem
    ),
    chain: Annotated[bool, typer.Option(help="Append the issuing and root CA (PEM only).")] = False,
    address: Address = None,
    as_json: Json = False,
) -> None:
    """Write a certificate (optionally with its chain) as PEM or DER."""
    from hoso.signing.v1 import trust_pb2 as pb

    if chain and encoding is FormatChoice.der:
        fail("DER holds one certificate: use --format pem with --chain", as_json, exit_code=2)
    request = pb.ExportCertificateRequest(
        name=_name_of(serial, as_json),
        format=pb.CERTIFICATE_FORMAT_DER
        if encoding is FormatChoice.der
        else pb.CERTIFICATE_FORMAT_PEM,
        include_chain=chain,
    )
    answer = run_trust(address, as_json, lambda stub: stub.ExportCertificate(request))
    if str(out) == "-":
        if as_json:
            fail("--json needs a file: the certificate would mix with the JSON", True, exit_code=2)
        sys.stdout.buffer.write(answer.content)
        sys.stdout.flush()
        return
    out.write_bytes(answer.content)
    emit(
        {"file": str(out), "bytes": len(answer.content), "media_type": answer.media_type},
        as_json,
        [f"wrote {out} ({len(answer.content)} bytes, {answer.media_type})"],
    )


def register(app: typer.Typer) -> None:
    """Mount ``hoso cert`` on the root command."""
    app.add_typer(cert_app, name="cert")
