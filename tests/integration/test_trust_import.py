"""ImportCertificateAuthority over gRPC: bad inputs refused by field, then a real replacement."""

from __future__ import annotations

import datetime as dt

import aiohttp
import grpc
import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hoso.signing.trust.ocsp import cert_id_for
from hoso.signing.v1 import trust_pb2 as pb
from hoso.signing.v1 import trust_pb2_grpc as pb_grpc

pytestmark = pytest.mark.asyncio

SETTINGS = {"signing": {"key_passphrase": "import test passphrase"}}
PASSPHRASE = "mật khẩu khóa CA"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ban Cơ yếu Chính phủ (thử)"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        ]
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = True,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name = issuer.subject if issuer is not None else _name(subject)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey, passphrase: str | None = PASSPHRASE) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


class ExternalCa:
    """A root and issuing CA made elsewhere (what an operator imports)."""

    def __init__(self, label: str) -> None:
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        self.root = _certificate(f"{label} Root", self.root_key, None, self.root_key)
        self.issuing_key = ec.generate_private_key(ec.SECP256R1())
        self.issuing = _certificate(f"{label} Issuing", self.issuing_key, self.root, self.root_key)

    def request(self, **changes: object) -> pb.ImportCertificateAuthorityRequest:
        fields: dict[str, object] = {
            "root_certificate": _pem(self.root),
            "issuing_certificate": self.issuing.public_bytes(serialization.Encoding.DER),
            "issuing_private_key": _key_pem(self.issuing_key),
            "private_key_passphrase": PASSPHRASE,
        }
        fields.update(changes)
        return pb.ImportCertificateAuthorityRequest(**fields)  # type: ignore[arg-type]


async def _expect(call, code: grpc.StatusCode, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    assert text in (caught.value.details() or ""), caught.value.details()


async def test_import_refuses_bad_inputs_by_field(start_server) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.TrustServiceStub(server.channel("operator"))
    ca = ExternalCa("Thử nghiệm")
    other = ExternalCa("Khác")
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate("Không phải CA", leaf_key, ca.root, ca.root_key, ca=False)
    invalid = grpc.StatusCode.INVALID_ARGUMENT

    await _expect(stub.ImportCertificateAuthority(ca.request(root_certificate=b"junk")), invalid,
                  "root_certificate is not an X.509 certificate")  # fmt: skip
    await _expect(stub.ImportCertificateAuthority(ca.request(issuing_certificate=b"")), invalid,
                  "issuing_certificate is empty")  # fmt: skip
    await _expect(
        stub.ImportCertificateAuthority(
            ca.request(issuing_private_key=_key_pem(other.issuing_key))
        ),
        invalid,
        "issuing_private_key does not match issuing_certificate",
    )
    await _expect(
        stub.ImportCertificateAuthority(
            ca.request(issuing_certificate=_pem(leaf), issuing_private_key=_key_pem(leaf_key))
        ),
        invalid,
        "issuing_certificate is not a CA certificate",
    )
    await _expect(
        stub.ImportCertificateAuthority(ca.request(root_certificate=_pem(other.root))),
        invalid,
        "issuing_certificate is not signed by root_certificate",
    )
    await _expect(
        stub.ImportCertificateAuthority(ca.request(private_key_passphrase="sai mật khẩu")),
        invalid,
        "passphrase is wrong",
    )
    await _expect(
        stub.ImportCertificateAuthority(ca.request(issuing_private_key=b"")),
        invalid,
        "give exactly one of issuing_private_key",
    )
    # A CA is in service since the first start: replacing it must be asked for.
    await _expect(
        stub.ImportCertificateAuthority(ca.request()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "set replace",
    )
    dms = pb_grpc.TrustServiceStub(server.channel("dms"))
    await _expect(
        dms.ImportCertificateAuthority(ca.request(replace=True)),
        grpc.StatusCode.PERMISSION_DENIED,
        "",
    )
    # Nothing changed: the CA created on first start still issues.
    current = await stub.GetCertificateAuthority(pb.GetCertificateAuthorityRequest())
    assert current.root_certificate.der != ca.root.public_bytes(serialization.Encoding.DER)


async def test_replace_with_imported_ca_then_issue_and_answer_ocsp(start_server) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.TrustServiceStub(server.channel("operator"))
    before = await stub.GetCertificateAuthority(pb.GetCertificateAuthorityRequest())
    ca = ExternalCa("Nhập khẩu")

    imported = await stub.ImportCertificateAuthority(ca.request(replace=True))
    issuing_der = ca.issuing.public_bytes(serialization.Encoding.DER)
    assert imported.issuing_certificate.der == issuing_der
    assert imported.root_certificate.key_store == pb.KEY_STORE_EXTERNAL  # root key stays offline
    assert imported.issuing_certificate.key_store == pb.KEY_STORE_SOFTWARE
    # Sending the same CA again is a no-op, not a second replacement.
    again = await stub.ImportCertificateAuthority(ca.request())
    assert again.issuing_certificate.name == imported.issuing_certificate.name

    now = await stub.GetCertificateAuthority(pb.GetCertificateAuthorityRequest())
    assert now.issuing_certificate.der == issuing_der
    retired = await stub.GetCertificate(
        pb.GetCertificateRequest(name=before.issuing_certificate.name)
    )
    assert retired.certificate.state != pb.CERTIFICATE_STATE_ACTIVE

    issued = (
        await stub.IssueCertificate(
            pb.IssueCertificateRequest(
                profile=pb.CERTIFICATE_PROFILE_OFFICIAL,
                subject=pb.DistinguishedName(common_name="Trần Thị Bình"),
                generated_key=pb.GeneratedKeySpec(key_algorithm=pb.KEY_ALGORITHM_EC_P256),
            )
        )
    ).certificate
    leaf = x509.load_der_x509_certificate(issued.der)
    leaf.verify_directly_issued_by(ca.issuing)  # signed by the imported issuing key

    from asn1crypto import x509 as asn1_x509

    cert_id = cert_id_for(leaf.serial_number, asn1_x509.Certificate.load(issuing_der), "sha256")
    request = asn1_ocsp.OCSPRequest(
        {"tbs_request": {"request_list": [{"req_cert": cert_id}]}}
    ).dump()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.http_url}/pki/ocsp", data=request) as response:
            answer = asn1_ocsp.OCSPResponse.load(await response.read())
        async with http.get(f"{server.http_url}/pki/issuing.cer") as response:
            assert await response.read() == issuing_der
        async with http.get(f"{server.http_url}/pki/root.crl") as response:
            assert response.status == 404  # the imported root signs its CRLs offline
            assert "offline" in await response.text()
    assert answer["response_status"].native == "successful"
    single = answer["response_bytes"]["response"].parsed["tbs_response_data"]["responses"][0]
    assert single["cert_status"].name == "good"
    responder = answer["response_bytes"]["response"].parsed["certs"][0]
    x509.load_der_x509_certificate(responder.dump()).verify_directly_issued_by(ca.issuing)
