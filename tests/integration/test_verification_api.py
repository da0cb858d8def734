"""VerificationService over gRPC: verdicts through the server, every RPC's bad inputs with the
right status and field, and trust profiles managed by RPC with audit events (#5)."""

from __future__ import annotations

import asyncio
import io
import logging

import grpc
import pikepdf
import pytest
from hoso.client.streams import header_then_chunks
from hoso.common.audit import AuditEvent
from hoso.signing.v1 import verification_pb2 as pb
from hoso.signing.v1 import verification_pb2_grpc as pb_grpc
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from sqlalchemy import select

from tests.fixtures.attacks import TestPki, base_pdf, make_test_pki, sign_pdf

pytestmark = pytest.mark.asyncio

SETTINGS = {"signing": {"key_passphrase": "verification passphrase"}}
PKI: TestPki = make_test_pki()
SIGNED = sign_pdf(base_pdf(), PKI)
PROFILE = "trustProfiles/test-pki"


@pytest.fixture(autouse=True)
def _quiet_pyhanko(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="pyhanko")


async def _expect(call, code: grpc.StatusCode, text: str) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    assert text in (caught.value.details() or ""), caught.value.details()
    return caught.value


def verify_requests(data: bytes, **header: object):  # type: ignore[no-untyped-def]
    header.setdefault("language", pb.REPORT_LANGUAGE_EN)
    return header_then_chunks(pb.VerifyPdfRequest, "header", pb.VerifyPdfHeader(**header), data)


async def _profile(stub: pb_grpc.VerificationServiceStub) -> None:
    await stub.CreateTrustProfile(
        pb.CreateTrustProfileRequest(
            trust_profile_id="test-pki",
            trust_profile=pb.TrustProfile(
                display_name="Test PKI",
                anchors=[pb.TrustAnchor(label="Test root", der=PKI.root.der)],
            ),
        )
    )


def _encrypted_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="chủ", user="", R=6))
    return out.getvalue()


async def _p7s(content: bytes) -> bytes:
    signer = signers.SimpleSigner(
        signing_cert=PKI.signer.asn1_cert,
        signing_key=PKI.signer.asn1_key,
        cert_registry=SimpleCertificateStore.from_certs([PKI.root.asn1_cert]),
    )
    info = await signer.async_sign_general_data(content, "sha256", detached=True, use_cades=True)
    return info.dump()


async def test_verify_pdf_answers_and_bad_inputs(start_server) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.VerificationServiceStub(server.channel("operator"))
    await _profile(stub)

    report = (await stub.VerifyPdf(verify_requests(SIGNED, trust_profile=PROFILE))).report
    assert report.verdict == pb.VERDICT_VALID, report.human_report
    (signature,) = report.signatures
    assert signature.integrity_ok and signature.trusted_anchor == "Test root"
    assert signature.revocation_status == pb.REVOCATION_STATUS_GOOD
    assert signature.revocation_source == pb.REVOCATION_SOURCE_EMBEDDED
    assert report.trust_profile == PROFILE and report.language == pb.REPORT_LANGUAGE_EN
    assert '"DocumentVerdict": "VALID"' in report.json_report
    assert "Verdict: VALID" in report.human_report

    # The same file against our own root (the default profile) is untrusted, in Vietnamese.
    default = (await stub.VerifyPdf(verify_requests(SIGNED, language=0))).report
    assert default.verdict == pb.VERDICT_INVALID
    assert default.trust_profile == "trustProfiles/hoso-root"
    assert "trust.chain_untrusted" in {f.code for f in default.signatures[0].findings}
    assert "Kết luận: KHÔNG HỢP LỆ" in default.human_report

    # Unsigned: a result, not an error.
    unsigned = (await stub.VerifyPdf(verify_requests(base_pdf(), trust_profile=PROFILE))).report
    assert unsigned.verdict == pb.VERDICT_UNSIGNED and not unsigned.signatures
    # Truncated: INVALID with the reason, not an error.
    truncated = (await stub.VerifyPdf(verify_requests(SIGNED[: len(SIGNED) // 2]))).report
    assert truncated.verdict == pb.VERDICT_INVALID
    assert [f.code for f in truncated.findings] == ["document.malformed_pdf"]
    assert truncated.findings[0].severity == pb.FINDING_SEVERITY_ERROR

    error = await _expect(
        stub.VerifyPdf(verify_requests(b"GIF89a not a pdf at all")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "not a PDF",
    )
    assert "document" in str(error.trailing_metadata())
    await _expect(
        stub.VerifyPdf(verify_requests(_encrypted_pdf())),
        grpc.StatusCode.FAILED_PRECONDITION,
        "encrypted",
    )
    huge = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<</Size 2000000000/Root 1 0 R>>\n%%EOF\n"
    await _expect(
        stub.VerifyPdf(verify_requests(huge)), grpc.StatusCode.RESOURCE_EXHAUSTED, "max_objects"
    )
    await _expect(
        stub.VerifyPdf(verify_requests(SIGNED, trust_profile="trustProfiles/nope")),
        grpc.StatusCode.NOT_FOUND,
        "trustProfiles/nope",
    )
    await _expect(
        stub.VerifyPdf(verify_requests(SIGNED, trust_profile="test-pki")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "header.trust_profile",
    )
    await _expect(
        stub.VerifyPdf(verify_requests(SIGNED, language=9)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "header.language",
    )
    await _expect(
        stub.VerifyPdf(iter([pb.VerifyPdfRequest(chunk=SIGNED)])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "first message must carry the header",
    )
    await _expect(
        stub.VerifyPdf(iter([pb.VerifyPdfRequest(header=pb.VerifyPdfHeader())])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "no file arrived",
    )
    oversized = [
        pb.VerifyPdfRequest(header=pb.VerifyPdfHeader()),
        pb.VerifyPdfRequest(chunk=b"x" * (1024 * 1024 + 1)),
    ]
    await _expect(stub.VerifyPdf(iter(oversized)), grpc.StatusCode.INVALID_ARGUMENT, "at most")
    # Auditors verify but do not manage profiles; nobody else verifies.
    auditor = pb_grpc.VerificationServiceStub(server.channel("auditor"))
    assert (await auditor.VerifyPdf(verify_requests(SIGNED, trust_profile=PROFILE))).report.verdict
    await _expect(
        auditor.DeleteTrustProfile(pb.DeleteTrustProfileRequest(name=PROFILE)),
        grpc.StatusCode.PERMISSION_DENIED,
        "",
    )


async def test_size_limit_is_resource_exhausted_while_receiving(start_server) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(
        ["signing"], overrides={"signing": {**SETTINGS["signing"], "verify_max_bytes": 4096}}
    )
    stub = pb_grpc.VerificationServiceStub(server.channel("operator"))
    await _expect(
        stub.VerifyPdf(verify_requests(SIGNED)),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "verify_max_bytes",
    )


async def test_verify_detached_and_bad_cms(start_server) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.VerificationServiceStub(server.channel("operator"))
    await _profile(stub)
    content = "Quyết định số 12/QĐ-UBND".encode()

    def requests(cms: bytes, data: bytes = content, **header: object):  # type: ignore[no-untyped-def]
        message = pb.VerifyDetachedHeader(cms=cms, language=pb.REPORT_LANGUAGE_EN, **header)
        return header_then_chunks(pb.VerifyDetachedRequest, "header", message, data)

    p7s = await _p7s(content)
    report = (await stub.VerifyDetached(requests(p7s, trust_profile=PROFILE))).report
    # a bare .p7s carries no revocation data: offline, that cannot be decided
    assert report.verdict == pb.VERDICT_INDETERMINATE, report.human_report
    assert report.signatures[0].integrity_ok
    assert report.signatures[0].revocation_status == pb.REVOCATION_STATUS_UNKNOWN
    other = (await stub.VerifyDetached(requests(p7s, content + b"!", trust_profile=PROFILE))).report
    assert other.verdict == pb.VERDICT_INVALID
    assert other.signatures[0].findings[0].code == "integrity.digest_mismatch"

    for bad in (b"", b"\x30\x03\x02\x01\x01", b"-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----"):
        error = await _expect(
            stub.VerifyDetached(requests(bad)), grpc.StatusCode.INVALID_ARGUMENT, "header.cms"
        )
        assert error.details()
    await _expect(
        stub.VerifyDetached(requests(p7s, trust_profile="trustProfiles/nope")),
        grpc.StatusCode.NOT_FOUND,
        "does not exist",
    )
    await _expect(
        stub.VerifyDetached(requests(p7s, b"")), grpc.StatusCode.INVALID_ARGUMENT, "no file"
    )


async def test_trust_profile_crud_and_bad_inputs(start_server) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.VerificationServiceStub(server.channel("operator"))

    listed = await stub.ListTrustProfiles(pb.ListTrustProfilesRequest())
    builtins = {p.name: p for p in listed.trust_profiles}
    assert set(builtins) == {
        "trustProfiles/hoso-root",
        "trustProfiles/vn-gov-root",
        "trustProfiles/vn-national-root",
    }
    own = builtins["trustProfiles/hoso-root"]
    assert own.default_profile and len(own.anchors) == 1 and own.anchors[0].subject
    assert not builtins["trustProfiles/vn-national-root"].anchors  # an empty slot to fill

    anchor = pb.TrustAnchor(label="Gốc thử nghiệm", der=PKI.root.der)
    created = (
        await stub.CreateTrustProfile(
            pb.CreateTrustProfileRequest(
                trust_profile_id="so-noi-vu",
                trust_profile=pb.TrustProfile(display_name="Sở Nội vụ", anchors=[anchor]),
                request_id="create-1",
            )
        )
    ).trust_profile
    assert created.name == "trustProfiles/so-noi-vu" and created.etag == "1"
    assert created.anchors[0].sha256_fingerprint and created.require_revocation_check is True
    again = await stub.CreateTrustProfile(
        pb.CreateTrustProfileRequest(
            trust_profile_id="so-noi-vu",
            trust_profile=pb.TrustProfile(anchors=[anchor]),
            request_id="create-1",
        )
    )
    assert again.trust_profile == created  # idempotent retry

    def create(profile_id: str, *anchors: pb.TrustAnchor):  # type: ignore[no-untyped-def]
        return stub.CreateTrustProfile(
            pb.CreateTrustProfileRequest(
                trust_profile_id=profile_id, trust_profile=pb.TrustProfile(anchors=list(anchors))
            )
        )

    await _expect(create("so-noi-vu", anchor), grpc.StatusCode.ALREADY_EXISTS, "already exists")
    await _expect(
        create("bad-der", pb.TrustAnchor(der=b"\x30\x82junk")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "trust_profile.anchors[0].der",
    )
    await _expect(create("no-anchors"), grpc.StatusCode.INVALID_ARGUMENT, "anchors is empty")
    await _expect(create("Bad_Id", anchor), grpc.StatusCode.INVALID_ARGUMENT, "trust_profile_id")

    await _expect(
        stub.GetTrustProfile(pb.GetTrustProfileRequest(name="trustProfiles/none-such")),
        grpc.StatusCode.NOT_FOUND,
        "does not exist",
    )
    await _expect(
        stub.GetTrustProfile(pb.GetTrustProfileRequest(name="so-noi-vu")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "trustProfiles/{id}",
    )
    page = await stub.ListTrustProfiles(pb.ListTrustProfilesRequest(page_size=2))
    rest = await stub.ListTrustProfiles(
        pb.ListTrustProfilesRequest(page_size=2, page_token=page.next_page_token)
    )
    names = [p.name for p in page.trust_profiles] + [p.name for p in rest.trust_profiles]
    assert names == sorted(names) and len(names) == 4 and not rest.next_page_token
    await _expect(
        stub.ListTrustProfiles(pb.ListTrustProfilesRequest(page_token="%%%")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    )

    # Operators fill the national root slot by importing its DER, and make it the default.
    updated = (
        await stub.UpdateTrustProfile(
            pb.UpdateTrustProfileRequest(
                trust_profile=pb.TrustProfile(
                    name="trustProfiles/vn-national-root",
                    anchors=[anchor],
                    default_profile=True,
                    etag="1",
                ),
                update_mask={"paths": ["anchors", "default_profile"]},
            )
        )
    ).trust_profile
    assert updated.etag == "2" and updated.default_profile and len(updated.anchors) == 1
    own_now = await stub.GetTrustProfile(pb.GetTrustProfileRequest(name=own.name))
    assert not own_now.trust_profile.default_profile
    report = (await stub.VerifyPdf(verify_requests(SIGNED))).report  # the new default
    assert report.trust_profile == "trustProfiles/vn-national-root"
    assert report.verdict == pb.VERDICT_VALID, report.human_report

    def update(mask: list[str], **fields: object):  # type: ignore[no-untyped-def]
        fields.setdefault("name", "trustProfiles/so-noi-vu")
        return stub.UpdateTrustProfile(
            pb.UpdateTrustProfileRequest(
                trust_profile=pb.TrustProfile(**fields), update_mask={"paths": mask}
            )
        )

    await _expect(update(["owner"]), grpc.StatusCode.INVALID_ARGUMENT, "update_mask")
    await _expect(update(["anchors"]), grpc.StatusCode.INVALID_ARGUMENT, "anchors is empty")
    await _expect(
        update(["anchors"], anchors=[pb.TrustAnchor(der=b"nope")]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "anchors[0].der",
    )
    await _expect(
        update(["description"], description="x", etag="7"), grpc.StatusCode.ABORTED, "read it"
    )
    await _expect(
        update(["description"], name="trustProfiles/ghost"), grpc.StatusCode.NOT_FOUND, "ghost"
    )
    await _expect(
        update(["default_profile"], name="trustProfiles/vn-national-root"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "default",
    )

    await _expect(
        stub.DeleteTrustProfile(pb.DeleteTrustProfileRequest(name="trustProfiles/vn-gov-root")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "built in",
    )
    await _expect(
        stub.DeleteTrustProfile(pb.DeleteTrustProfileRequest(name=created.name, etag="9")),
        grpc.StatusCode.ABORTED,
        "read it",
    )
    await stub.DeleteTrustProfile(pb.DeleteTrustProfileRequest(name=created.name, etag="1"))
    await _expect(
        stub.DeleteTrustProfile(pb.DeleteTrustProfileRequest(name=created.name)),
        grpc.StatusCode.NOT_FOUND,
        "does not exist",
    )

    async with server.runtime.session() as session:
        events = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.target)
                .where(AuditEvent.action.like("verification.%"))
                .order_by(AuditEvent.sequence)
            )
        ).all()
    assert [tuple(e) for e in events] == [
        ("verification.trust_profile.create", "trustProfiles/so-noi-vu"),
        ("verification.trust_profile.update", "trustProfiles/vn-national-root"),
        ("verification.trust_profile.delete", "trustProfiles/so-noi-vu"),
    ]


def _large_signed_pdf() -> bytes:
    """A signed PDF of about 6 MiB: the base document carries a big incompressible stream."""
    import random

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(base_pdf()))
    blob = generic.StreamObject(stream_data=random.Random(5).randbytes(6 * 1024 * 1024))
    writer.root["/HosoAttachment"] = writer.add_object(blob)
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return sign_pdf(out.getvalue(), PKI)


async def test_large_upload_is_spooled_to_disk_and_removed(start_server) -> None:  # type: ignore[no-untyped-def]
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.VerificationServiceStub(server.channel("operator"))
    await _profile(stub)
    spool = server.runtime.data_dir / "signing" / "verify"
    padded = await asyncio.to_thread(_large_signed_pdf)  # past the in-memory limit
    report = (await stub.VerifyPdf(verify_requests(padded, trust_profile=PROFILE))).report
    assert report.verdict == pb.VERDICT_VALID, report.human_report
    assert spool.is_dir() and not list(spool.iterdir())  # the spool file is gone
