"""mTLS: a client certificate's common name identifies the caller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hoso.client.channel import ClientConfig, connect
from hoso.common.server import start
from hoso.common.v1 import audit_pb2, audit_pb2_grpc

from tests.fixtures.grpc_server import make_test_settings

pytestmark = pytest.mark.asyncio


def _issue(
    name: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    san: str | None = None,
):  # type: ignore[no-untyped-def]
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
        )
    certificate = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return certificate, key


def _write(
    path: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None
) -> None:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


async def test_client_certificate_identity(tmp_path: Path) -> None:
    ca = _issue("hoso test CA", None, ca=True)
    server_cert = _issue("localhost", ca, san="localhost")
    auditor = _issue("kiemtoan.example.gov.vn", ca)
    stranger = _issue("stranger.example", ca)
    for name, (cert, key) in {
        "ca": ca,
        "server": server_cert,
        "auditor": auditor,
        "stranger": stranger,
    }.items():
        _write(tmp_path / f"{name}.pem", cert, key)
    settings = make_test_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'c.sqlite3'}",
        {
            "server": {
                "host": "localhost",
                "tls_cert_file": str(tmp_path / "server.pem"),
                "tls_key_file": str(tmp_path / "server.key"),
                "tls_client_ca_file": str(tmp_path / "ca.pem"),
                "require_client_cert": True,
            },
            "auth": {
                "callers": {
                    "kiem-toan": {"roles": ["auditor"], "client_cert_cn": "kiemtoan.example.gov.vn"}
                }
            },
        },
    )
    running = await start(settings, [])
    try:

        def channel(who: str) -> grpc.aio.Channel:
            return connect(
                ClientConfig(
                    address=f"localhost:{running.port}",
                    root_certificates=tmp_path / "ca.pem",
                    client_certificate=tmp_path / f"{who}.pem",
                    client_key=tmp_path / f"{who}.key",
                )
            )

        async with channel("auditor") as known:
            answer = await audit_pb2_grpc.AuditServiceStub(known).VerifyAuditChain(
                audit_pb2.VerifyAuditChainRequest()
            )
            assert answer.ok
        async with channel("stranger") as unknown:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await audit_pb2_grpc.AuditServiceStub(unknown).VerifyAuditChain(
                    audit_pb2.VerifyAuditChainRequest()
                )
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "stranger.example" in caught.value.details()
    finally:
        await running.stop(grace=1)
