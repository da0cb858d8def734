"""ImportCertificateAuthority over gRPC: bad inputs refused by field, then a real replacement."""

from __future__ import annotations

import aiohttp
import grpc
import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hoso.signing.trust.ocsp import cert_id_for
from hoso.signing.v1 import trust_pb2 as pb
from hoso.signing.v1 import trust_pb2_grpc as pb_grpc

from tests.fixtures.external_ca import ExternalCa, certificate_pem, key_pem, make_certificate

pytestmark = pytest.mark.asyncio


SETTINGS = {"signing": {"key_passphrase": "import test passphrase"}}


async def _expect(call, code: grpc.StatusCode, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    assert text in (caught.value.details() or ""), caught.value.details()


async def test_import_refuses_bad_inputs_by_field(start_server, database_url: str) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.TrustServiceStub(server.channel("operator"))
    ca = ExternalCa("Thử nghiệm")
    other = ExternalCa("Khác")
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = make_certificate("Không phải CA", leaf_key, ca.root, ca.root_key, ca=False)
    invalid = grpc.StatusCode.INVALID_ARGUMENT

    await _expect(stub.ImportCertificateAuthority(ca.request(root_certificate=b"junk")), invalid,
                  "root_certificate is not an X.509 certificate")  # fmt: skip
    await _expect(stub.ImportCertificateAuthority(ca.request(issuing_certificate=b"")), invalid,
                  "issuing_certificate is empty")  # fmt: skip
    await _expect(
        stub.ImportCertificateAuthority(ca.request(issuing_private_key=key_pem(other.issuing_key))),
        invalid,
        "issuing_private_key does not match issuing_certificate",
    )
    await _expect(
        stub.ImportCertificateAuthority(
            ca.request(
                issuing_certificate=certificate_pem(leaf), issuing_private_key=key_pem(leaf_key)
            )
        ),
        invalid,
        "issuing_certificate is not a CA certificate",
    )
    await _expect(
        stub.ImportCertificateAuthority(ca.request(root_certificate=certificate_pem(other.root))),
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


async def test_replace_with_imported_ca_then_issue_and_answer_ocsp(
    start_server, database_url: str
) -> None:  # type: ignore[no-untyped-def]
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
