"""Our own signatures through VerifyPdf: a B-LT PDF made by the signing core with the trust
services' PKI verifies offline as VALID with revocation at signing time, tampered copies do
not, and representative corpus cases keep their verdicts through the gRPC path (#5)."""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile

import pytest
from hoso.signing.pades.engine import PadesEngine, SignRequest
from hoso.signing.pades.environment import TrustEnvironment
from hoso.signing.pades.inputs import spool_bytes
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.signer import SigningCredential
from hoso.signing.trust.authority import to_asn1
from hoso.signing.v1 import verification_pb2 as pb
from hoso.signing.v1 import verification_pb2_grpc as pb_grpc
from hoso.signing.v1.signing_pb2 import PADES_LEVEL_B_LT
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.fixtures.attacks import build_attack_corpus, make_test_pki
from tests.fixtures.pades import make_pdf
from tests.fixtures.trust import TrustFixture
from tests.integration.test_verification_api import verify_requests

pytestmark = pytest.mark.asyncio

SETTINGS = {"signing": {"key_passphrase": "verification passphrase"}}
CORPUS_CASES = (
    "benign_lt",
    "benign_later_signature",
    "benign_fill_empty_field",
    "digest_mismatch",
    "cms_malformed",
    "signature_wrapping",
    "coverage_not_whole_revision",
    "isa_trailing_objects",
    "shadow_replace_prefilled_field",
    "sneaky_signature",
)


@pytest.fixture(autouse=True)
def _quiet_pyhanko(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="pyhanko")


async def _sign_b_lt(trust: TrustFixture, pdf: bytes) -> bytes:
    root, issuing = trust.root_cert, trust.issuing_cert
    env = TrustEnvironment(
        trust_roots=(root,),
        other_certs=(issuing,),
        timestampers=(trust.time_stamper,),
        revocation=trust.revocation,
    )
    credential = SigningCredential(
        "cred-official", trust.official.key, to_asn1(trust.official.certificate), (issuing, root)
    )
    request = SignRequest(level=SignatureLevel.B_LT, reason="Phê duyệt", location="Hà Nội")
    with spool_bytes(pdf, max_bytes=10 * 1024 * 1024) as document, tempfile.TemporaryFile() as out:
        await PadesEngine(env).sign(document, credential, request, out)
        out.seek(0)
        return out.read()


def _add_page_text(data: bytes) -> bytes:
    """A later revision that draws new text on page 1 (what a reader sees changes)."""
    from pyhanko.pdf_utils import generic

    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 500 Td (DA HUY) Tj ET")
    contents = page["/Contents"]
    items = list(contents) if isinstance(contents, generic.ArrayObject) else [contents]
    page["/Contents"] = generic.ArrayObject([*items, writer.add_object(stream)])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_our_b_lt_signature_verifies_offline_and_tampering_is_caught(
    trust_services: TrustFixture, start_server
) -> None:  # type: ignore[no-untyped-def]
    signed = await _sign_b_lt(trust_services, make_pdf())
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.VerificationServiceStub(server.channel("auditor"))
    operator = pb_grpc.VerificationServiceStub(server.channel("operator"))
    await operator.CreateTrustProfile(
        pb.CreateTrustProfileRequest(
            trust_profile_id="ubnd-ba-dinh",
            trust_profile=pb.TrustProfile(
                anchors=[pb.TrustAnchor(label="Hoso Root", der=trust_services.root_cert.dump())]
            ),
        )
    )
    profile = "trustProfiles/ubnd-ba-dinh"

    # Revoked after signing: the embedded evidence speaks for the signing time.
    await trust_services.revoke(trust_services.official)
    report = (await stub.VerifyPdf(verify_requests(signed, trust_profile=profile))).report
    assert report.verdict == pb.VERDICT_VALID, report.human_report
    (signature,) = report.signatures
    assert signature.integrity_ok and signature.certificate_valid_at_signing_time
    assert signature.level == PADES_LEVEL_B_LT
    assert signature.revocation_status == pb.REVOCATION_STATUS_GOOD
    assert signature.revocation_source == pb.REVOCATION_SOURCE_EMBEDDED
    assert signature.trusted_anchor == "Hoso Root"
    assert signature.signer.subject.find("Nguyễn Văn An") >= 0
    assert signature.signature_timestamp.valid
    assert len(signature.chain) == 3  # signer, issuing CA, root
    assert signature.coverage == pb.SIGNATURE_COVERAGE_ENTIRE_REVISION or (
        signature.coverage == pb.SIGNATURE_COVERAGE_ENTIRE_FILE
    )
    assert '"SignatureQualityInformation": "B-LT"' in report.json_report

    # One byte changed inside the signed range: broken integrity.
    index = signed.index(b"/Producer") if b"/Producer" in signed else signed.index(b"/Type")
    tampered = signed[:index] + b"/Xroducer"[: len(b"/Producer")] + signed[index + 9 :]
    assert tampered != signed and len(tampered) == len(signed)
    broken = (await stub.VerifyPdf(verify_requests(tampered, trust_profile=profile))).report
    assert broken.verdict == pb.VERDICT_INVALID, broken.human_report

    # A later revision that changes what page 1 shows: MODIFIED, with the change named.
    changed = (
        await stub.VerifyPdf(verify_requests(_add_page_text(signed), trust_profile=profile))
    ).report
    assert changed.verdict == pb.VERDICT_MODIFIED, changed.human_report
    assert changed.signatures[0].modification_level == pb.MODIFICATION_LEVEL_OTHER
    # revisions: original, signature, DSS (B-LT), the change
    assert changed.revision_count == 4
    kinds = [c.kind for c in changed.signatures[0].changes]
    assert kinds == [pb.MODIFICATION_LEVEL_LTA_UPDATES, pb.MODIFICATION_LEVEL_OTHER]


async def test_corpus_cases_keep_their_verdicts_through_grpc(start_server) -> None:  # type: ignore[no-untyped-def]
    pki = make_test_pki()
    # the corpus signs with asyncio.run(), so it is built outside this event loop
    cases = {c.name: c for c in await asyncio.to_thread(build_attack_corpus, pki)}
    server = await start_server(["signing"], overrides=SETTINGS)
    stub = pb_grpc.VerificationServiceStub(server.channel("operator"))
    await stub.CreateTrustProfile(
        pb.CreateTrustProfileRequest(
            trust_profile_id="corpus",
            trust_profile=pb.TrustProfile(anchors=[pb.TrustAnchor(der=pki.root.der)]),
        )
    )
    for name in CORPUS_CASES:
        case = cases[name]
        report = (
            await stub.VerifyPdf(verify_requests(case.data, trust_profile="trustProfiles/corpus"))
        ).report
        assert pb.Verdict.Name(report.verdict) == f"VERDICT_{case.verdict}", (name, report)
        codes = {f.code for f in report.findings} | {
            f.code for s in report.signatures for f in s.findings
        }
        assert any(code.endswith("." + case.code.lower()) for code in codes), (name, codes)
        if case.verdict != "VALID":
            errors = [
                f
                for s in [*report.signatures, report]
                for f in s.findings
                if f.severity == pb.FINDING_SEVERITY_ERROR
            ]
            assert errors and all(f.message_vi and f.message_en for f in errors), name
