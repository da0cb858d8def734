"""OpenSSL accepts our chain, OCSP answers, CRL and timestamp tokens (served over real HTTP)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID
from hoso.signing.v1 import trust_pb2 as pb
from hoso.signing.v1 import trust_pb2_grpc as pb_grpc

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
]

SETTINGS = {"signing": {"key_passphrase": "interop passphrase"}}


async def _openssl(*args: str, cwd: Path) -> str:
    # Asynchronous: the HTTP server openssl talks to runs on this very event loop.
    process = await asyncio.create_subprocess_exec(
        "openssl", *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    out = stdout.decode() + stderr.decode()
    assert process.returncode == 0, f"openssl {' '.join(args)}: {out}"
    return out


def _urls(der: bytes) -> dict[str, str]:
    """The OCSP, caIssuers and CRL URLs written into a certificate."""
    certificate = x509.load_der_x509_certificate(der)
    aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    cdp = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    urls = {
        {AuthorityInformationAccessOID.OCSP: "ocsp"}.get(d.access_method, "ca_issuers"): str(
            d.access_location.value
        )
        for d in aia
    }
    urls["crl"] = str(cdp[0].full_name[0].value)  # type: ignore[index]
    return urls


def _pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


async def test_openssl_accepts_chain_ocsp_crl_and_timestamps(  # type: ignore[no-untyped-def]
    start_server, database_url: str, tmp_path: Path
) -> None:
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.TrustServiceStub(server.channel("operator"))
    ca = await stub.GetCertificateAuthority(pb.GetCertificateAuthorityRequest())
    issued = await stub.IssueCertificate(
        pb.IssueCertificateRequest(
            profile=pb.CERTIFICATE_PROFILE_OFFICIAL,
            subject=pb.DistinguishedName(common_name="Lê Thị Hoa", organization="Sở Tư pháp"),
            generated_key=pb.GeneratedKeySpec(key_algorithm=pb.KEY_ALGORITHM_RSA_2048),
        )
    )
    (tmp_path / "root.pem").write_bytes(_pem(ca.root_certificate.der))
    (tmp_path / "issuing.pem").write_bytes(_pem(ca.issuing_certificate.der))
    (tmp_path / "leaf.pem").write_bytes(_pem(issued.certificate.der))
    (tmp_path / "chain.pem").write_text(ca.chain_pem)

    out = await _openssl(
        "verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "leaf.pem", cwd=tmp_path
    )
    assert "leaf.pem: OK" in out

    # The server was started with http_port 0 and no public_base_url: the URLs in the
    # certificates name the port it actually bound, so they are used as they are.
    urls = _urls(issued.certificate.der)
    assert urls["ocsp"] == f"{server.http_url}/pki/ocsp"
    ocsp_url = urls["ocsp"]
    async with aiohttp.ClientSession() as http:
        async with http.get(urls["ca_issuers"]) as response:
            assert await response.read() == ca.issuing_certificate.der
        async with http.get(_urls(ca.issuing_certificate.der)["crl"]) as response:
            root_crl = x509.load_der_x509_crl(await response.read())
            assert (
                root_crl.issuer == x509.load_der_x509_certificate(ca.root_certificate.der).subject
            )
    ocsp_args = (
        "ocsp", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-url", ocsp_url,
        "-CAfile", "chain.pem", "-resp_text",
    )  # fmt: skip
    out = await _openssl(*ocsp_args, cwd=tmp_path)
    assert "Response verify OK" in out
    assert "leaf.pem: good" in out

    await stub.RevokeCertificate(
        pb.RevokeCertificateRequest(
            name=issued.certificate.name, reason=pb.REVOCATION_REASON_KEY_COMPROMISE
        )
    )
    out = await _openssl(*ocsp_args, cwd=tmp_path)
    assert "Response verify OK" in out
    assert "leaf.pem: revoked" in out
    assert "keyCompromise" in out

    async with (
        aiohttp.ClientSession() as http,
        http.get(urls["crl"]) as response,
    ):
        assert response.content_type == "application/pkix-crl"
        (tmp_path / "issuing.crl").write_bytes(await response.read())
    out = await _openssl(
        "crl", "-inform", "DER", "-in", "issuing.crl", "-noout", "-text", "-CAfile", "chain.pem",
        cwd=tmp_path,
    )  # fmt: skip
    assert "verify OK" in out
    assert issued.certificate.serial_hex.upper().zfill(2) in out.replace(":", "").upper()

    (tmp_path / "document.txt").write_text("Giấy chứng nhận")
    await _openssl(
        "ts", "-query", "-data", "document.txt", "-sha256", "-cert", "-out", "request.tsq",
        cwd=tmp_path,
    )  # fmt: skip
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.http_url}/pki/tsa",
            data=(tmp_path / "request.tsq").read_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
        ) as response,
    ):
        (tmp_path / "reply.tsr").write_bytes(await response.read())
    out = await _openssl(
        "ts", "-verify", "-in", "reply.tsr", "-queryfile", "request.tsq",
        "-CAfile", "root.pem", "-untrusted", "issuing.pem", cwd=tmp_path,
    )  # fmt: skip
    assert "Verification: OK" in out


async def test_http_endpoints_answer_bad_requests_in_protocol(start_server) -> None:  # type: ignore[no-untyped-def]
    from asn1crypto import ocsp
    from hoso.signing.trust.tsa import TimeStampResponse

    server = await start_server(["signing"], overrides=SETTINGS)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.http_url}/pki/ocsp", data=b"garbage") as response:
            assert response.status == 200
            answer = ocsp.OCSPResponse.load(await response.read())
            assert answer["response_status"].native == "malformed_request"
        async with http.get(f"{server.http_url}/pki/ocsp/%%%not-base64") as response:
            answer = ocsp.OCSPResponse.load(await response.read())
            assert answer["response_status"].native == "malformed_request"
        async with http.post(f"{server.http_url}/pki/tsa", data=b"\x30\x02\x01\x01") as response:
            reply = TimeStampResponse.load(await response.read())
            assert reply["status"]["status"].native == "rejection"
