"""TrustService over gRPC: happy paths and the status code + field of every bad input."""

from __future__ import annotations

import hashlib

import grpc
import pytest
from hoso.signing.v1 import trust_pb2 as pb
from hoso.signing.v1 import trust_pb2_grpc as pb_grpc

pytestmark = pytest.mark.asyncio

SETTINGS = {"signing": {"key_passphrase": "integration passphrase", "pin_max_attempts": 2}}
SUBJECT = pb.DistinguishedName(common_name="Phạm Minh Đức", organization="Sở Nội vụ")


async def _expect(call, code: grpc.StatusCode, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    assert text in (caught.value.details() or "")


async def test_issue_list_credential_and_bad_inputs(start_server, database_url: str) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.TrustServiceStub(server.channel("operator"))
    generated = pb.GeneratedKeySpec(key_algorithm=pb.KEY_ALGORITHM_EC_P256)
    issued = (
        await stub.IssueCertificate(
            pb.IssueCertificateRequest(
                profile=pb.CERTIFICATE_PROFILE_OFFICIAL,
                subject=SUBJECT,
                generated_key=generated,
                request_id="req-1",
            )
        )
    ).certificate
    assert issued.subject.common_name == "Phạm Minh Đức"
    assert issued.state == pb.CERTIFICATE_STATE_ACTIVE
    again = await stub.IssueCertificate(
        pb.IssueCertificateRequest(
            profile=pb.CERTIFICATE_PROFILE_OFFICIAL,
            subject=SUBJECT,
            generated_key=generated,
            request_id="req-1",
        )
    )
    assert again.certificate.name == issued.name  # idempotent retry

    # IssueCertificate bad inputs.
    await _expect(
        stub.IssueCertificate(pb.IssueCertificateRequest(subject=SUBJECT, generated_key=generated)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "profile",
    )
    await _expect(
        stub.IssueCertificate(
            pb.IssueCertificateRequest(profile=pb.CERTIFICATE_PROFILE_OFFICIAL, subject=SUBJECT)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "csr or generated_key",
    )
    await _expect(
        stub.IssueCertificate(
            pb.IssueCertificateRequest(
                profile=pb.CERTIFICATE_PROFILE_OFFICIAL,
                subject=SUBJECT,
                csr=pb.CertificateSigningRequest(csr=b"junk"),
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PKCS#10",
    )
    await _expect(
        stub.IssueCertificate(
            pb.IssueCertificateRequest(
                profile=pb.CERTIFICATE_PROFILE_OFFICIAL, subject=SUBJECT, generated_key=generated
            )
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "renew or revoke",
    )
    await _expect(
        stub.IssueCertificate(
            pb.IssueCertificateRequest(
                profile=pb.CERTIFICATE_PROFILE_OFFICIAL,
                subject=pb.DistinguishedName(common_name="X", personal_id="12"),
                generated_key=generated,
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "subject.personal_id",
    )
    await _expect(
        stub.GetCertificate(pb.GetCertificateRequest(name="bogus")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "certificates/{serial_hex}",
    )
    await _expect(
        stub.GetCertificate(pb.GetCertificateRequest(name="certificates/abc")),
        grpc.StatusCode.NOT_FOUND,
        "abc",
    )
    await _expect(
        stub.ListCertificates(pb.ListCertificatesRequest(page_token="%%%")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    )
    listed = await stub.ListCertificates(
        pb.ListCertificatesRequest(profile=pb.CERTIFICATE_PROFILE_OFFICIAL)
    )
    assert [c.name for c in listed.certificates] == [issued.name]
    await _expect(
        stub.RevokeCertificate(pb.RevokeCertificateRequest(name=issued.name)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "reason",
    )
    await _expect(
        stub.UnsuspendCertificate(pb.UnsuspendCertificateRequest(name=issued.name)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "not SUSPENDED",
    )

    # Credentials and consent.
    credential = (
        await stub.CreateCredential(
            pb.CreateCredentialRequest(certificate=issued.name, owner="duc.pm", pin="246802")
        )
    ).credential
    await _expect(
        stub.CreateCredential(
            pb.CreateCredentialRequest(certificate=issued.name, owner="duc.pm", pin="1")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "pin",
    )
    digest = pb.DocumentDigest(
        algorithm=pb.DIGEST_ALGORITHM_SHA256, value=hashlib.sha256(b"doc").digest()
    )
    authorised = await stub.AuthorizeCredential(
        pb.AuthorizeCredentialRequest(name=credential.name, pin="246802", digests=[digest])
    )
    assert authorised.sad and authorised.signatures_allowed == 1
    await _expect(
        stub.AuthorizeCredential(
            pb.AuthorizeCredentialRequest(name=credential.name, pin="000000", digests=[digest])
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "wrong PIN",
    )
    await _expect(
        stub.AuthorizeCredential(
            pb.AuthorizeCredentialRequest(name=credential.name, pin="000000", digests=[digest])
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "locked",
    )
    await _expect(
        stub.AuthorizeCredential(pb.AuthorizeCredentialRequest(name=credential.name, pin="246802")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "digests",
    )
    await _expect(
        stub.AuthorizeCredential(
            pb.AuthorizeCredentialRequest(name=credential.name, pin="246802", digests=[digest])
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "locked",
    )
    fetched = await stub.GetCredential(pb.GetCredentialRequest(name=credential.name))
    assert fetched.credential.state == pb.CREDENTIAL_STATE_LOCKED

    # Revoke, then revoking again is refused; export gives PEM with chain.
    revoked = await stub.RevokeCertificate(
        pb.RevokeCertificateRequest(name=issued.name, reason=pb.REVOCATION_REASON_SUPERSEDED)
    )
    assert revoked.certificate.state == pb.CERTIFICATE_STATE_REVOKED
    await _expect(
        stub.RevokeCertificate(
            pb.RevokeCertificateRequest(name=issued.name, reason=pb.REVOCATION_REASON_SUPERSEDED)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "already revoked",
    )
    exported = await stub.ExportCertificate(
        pb.ExportCertificateRequest(
            name=issued.name, format=pb.CERTIFICATE_FORMAT_PEM, include_chain=True
        )
    )
    assert exported.content.count(b"BEGIN CERTIFICATE") == 3


async def test_dms_role_cannot_issue(start_server) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.TrustServiceStub(server.channel("dms"))
    await _expect(
        stub.IssueCertificate(pb.IssueCertificateRequest()),
        grpc.StatusCode.PERMISSION_DENIED,
        "",
    )
    ca = await stub.GetCertificateAuthority(pb.GetCertificateAuthorityRequest())
    assert ca.tsa_url.endswith("/pki/tsa")
