"""The certificate authority: issuance, profiles, revocation, CRL, OCSP and TSA cores."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hoso.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from hoso.signing.keystore.api import KeyAlgorithm, verify_signature
from hoso.signing.trust.names import SubjectName
from hoso.signing.trust.ocsp import cert_id_for
from hoso.signing.trust.profiles import Profile
from hoso.signing.trust.tsa import TimeStampResponse
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from tests.fixtures.trust import TrustFixture

pytestmark = pytest.mark.asyncio


def _csr(key: object, cn: str = "Trần Thị Bình") -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)  # type: ignore[arg-type]


def _crl_serials(der: bytes) -> list[int]:
    entries = asn1_crl.CertificateList.load(der)["tbs_cert_list"]["revoked_certificates"]
    return [entry["user_certificate"].native for entry in entries]


def _crl_number(der: bytes) -> int:
    return (
        x509.load_der_x509_crl(der)
        .extensions.get_extension_for_class(x509.CRLNumber)
        .value.crl_number
    )


async def test_issued_certificates_follow_profiles(trust_services: TrustFixture) -> None:
    official = trust_services.official.certificate
    issuing = trust_services.authority.issuing.certificate
    official.verify_directly_issued_by(issuing)
    # RSASSA-PSS for the RSA official key's certificate is the CA's choice; the CA key is EC.
    assert official.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Nguyễn Văn An"
    usage = official.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    aia = official.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert {d.access_location.value for d in aia} == {
        "http://127.0.0.1:8080/pki/ocsp",
        "http://127.0.0.1:8080/pki/issuing.cer",
    }
    tsa = trust_services.authority.tsa.certificate
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    responder = trust_services.authority.ocsp.certificate
    responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
    ski = issuing.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = official.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest


async def test_issue_from_csr_and_pss_keys_sign(trust_services: TrustFixture) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with trust_services.session() as session:
        row = await trust_services.services.issue(
            session, profile=Profile.OFFICIAL, subject=None, csr=_csr(key)
        )
    assert row.key_store == "EXTERNAL" and row.key_id is None
    certificate = x509.load_der_x509_certificate(row.der)
    assert certificate.subject.rfc4514_string() == "CN=Trần Thị Bình,C=VN"
    assert certificate.public_key().public_numbers() == key.public_key().public_numbers()
    # The RSA official key of the fixture signs with RSASSA-PSS.
    signature = await trust_services.official.key.sign(b"document")
    verify_signature(trust_services.official.certificate.public_key(), signature, b"document")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make_csr", "message"),
    [
        (lambda: b"not a csr", "PKCS#10"),
        (lambda: _csr(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "≥ 2048"),
        (lambda: _csr(ec.generate_private_key(ec.SECP521R1())), "P-256 or P-384"),
    ],
)
async def test_bad_csr_is_invalid_argument(
    trust_services: TrustFixture, make_csr: object, message: str
) -> None:
    async with trust_services.session() as session:
        with pytest.raises(InvalidArgument, match=message) as caught:
            await trust_services.services.issue(
                session,
                profile=Profile.OFFICIAL,
                subject=None,
                csr=make_csr(),  # type: ignore[operator]
            )
    assert caught.value.field == "csr"


async def test_csr_with_forged_signature_is_refused(trust_services: TrustFixture) -> None:
    der = bytearray(
        x509.load_pem_x509_csr(_csr(ec.generate_private_key(ec.SECP256R1()))).public_bytes(
            serialization.Encoding.DER
        )
    )
    der[-5] ^= 0x01  # inside the signature value
    async with trust_services.session() as session:
        with pytest.raises(InvalidArgument, match=r"signature|PKCS#10"):
            await trust_services.services.issue(
                session, profile=Profile.OFFICIAL, subject=None, csr=bytes(der)
            )


async def test_duplicate_subject_and_unknown_profile(trust_services: TrustFixture) -> None:
    subject = SubjectName.create(
        common_name="Nguyễn Văn An",
        organization="UBND Quận Ba Đình",
        province="Hà Nội",
        email="an.nv@badinh.hanoi.gov.vn",
        personal_id="001085012345",
    )
    async with trust_services.session() as session:
        with pytest.raises(AlreadyExists, match="renew or revoke"):
            await trust_services.services.issue(
                session,
                profile=Profile.OFFICIAL,
                subject=subject,
                key_algorithm=KeyAlgorithm.EC_P256,
            )
        with pytest.raises(InvalidArgument, match="cannot be issued") as caught:
            await trust_services.services.issue(
                session,
                profile=Profile.ROOT_CA,
                subject=subject,
                key_algorithm=KeyAlgorithm.EC_P256,
            )
        assert caught.value.field == "profile"


async def test_subject_validation_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        SubjectName.create(common_name="A", personal_id="123")
    assert caught.value.field == "subject.personal_id"
    with pytest.raises(InvalidArgument) as caught:
        SubjectName.create(common_name="")
    assert caught.value.field == "subject.common_name"
    decomposed = "Nguye\u0302\u0303n"
    assert SubjectName.create(common_name=decomposed).common_name == "Nguyễn"


async def test_revocation_is_visible_at_once_with_increasing_crl_numbers(
    trust_services: TrustFixture,
) -> None:
    services = trust_services.services
    before = await services.current_crl()
    serial = trust_services.official.certificate.serial_number
    assert serial not in _crl_serials(before)
    # Several revocations in quick succession (same second, most likely): each is at once
    # in a CRL with a strictly higher number.
    await trust_services.revoke(trust_services.official)
    first = await services.current_crl()
    assert serial in _crl_serials(first)
    async with trust_services.session() as session:
        await services.suspend(
            session, format(trust_services.agency_seal.certificate.serial_number, "x")
        )
    second = await services.current_crl()
    assert _crl_number(before) < _crl_number(first) < _crl_number(second)
    assert trust_services.agency_seal.certificate.serial_number in _crl_serials(second)
    async with trust_services.session() as session:
        await services.unsuspend(
            session, format(trust_services.agency_seal.certificate.serial_number, "x")
        )
    third = await services.current_crl()
    assert _crl_number(second) < _crl_number(third)
    assert _crl_serials(third) == [serial]
    async with trust_services.session() as session:
        with pytest.raises(FailedPrecondition, match="already revoked"):
            await services.revoke(session, format(serial, "x"), "superseded")
        with pytest.raises(NotFound):
            await services.revoke(session, "abc123", "superseded")
        with pytest.raises(InvalidArgument) as caught:
            await services.revoke(session, format(serial, "x"), "bored")
        assert caught.value.field == "reason"
        tsa_serial = format(trust_services.authority.tsa.certificate.serial_number, "x")
        with pytest.raises(FailedPrecondition, match="cannot be suspended"):
            await services.suspend(session, tsa_serial)


def _ocsp_request(serial: int, issuer: object, nonce: bytes | None = b"\x04\x0812345678") -> bytes:
    request: dict[str, object] = {
        "tbs_request": {"request_list": [{"req_cert": cert_id_for(serial, issuer)}]}  # type: ignore[arg-type]
    }
    if nonce is not None:
        request["tbs_request"]["request_extensions"] = [  # type: ignore[index]
            {"extn_id": "nonce", "extn_value": nonce}
        ]
    return ocsp.OCSPRequest(request).dump()


async def test_ocsp_answers_good_revoked_unknown_and_malformed(
    trust_services: TrustFixture,
) -> None:
    services = trust_services.services
    issuer = trust_services.issuing_cert
    serial = trust_services.official.certificate.serial_number

    async def status_of(body: bytes) -> tuple[str, ocsp.OCSPResponse]:
        response = ocsp.OCSPResponse.load(await services.answer_ocsp(body))
        assert response["response_status"].native == "successful"
        single = response.basic_ocsp_response["tbs_response_data"]["responses"][0]
        return single["cert_status"].name, response

    status, response = await status_of(_ocsp_request(serial, issuer))
    assert status == "good"
    assert response.nonce_value.native == b"\x04\x0812345678"
    basic = response.basic_ocsp_response
    responder = trust_services.authority.ocsp
    verify_signature(
        responder.certificate.public_key(),  # type: ignore[arg-type]
        basic["signature"].native,
        basic["tbs_response_data"].dump(),
    )
    await trust_services.revoke(trust_services.official, "key_compromise")
    status, response = await status_of(_ocsp_request(serial, issuer, nonce=None))
    assert status == "revoked"
    assert status == "revoked" and response.nonce_value is None
    status, _ = await status_of(_ocsp_request(12345, issuer))
    assert status == "unknown"
    status, _ = await status_of(_ocsp_request(serial, trust_services.root_cert))
    assert status == "unknown"
    malformed = ocsp.OCSPResponse.load(await services.answer_ocsp(b"\x30\x03garbage"))
    assert malformed["response_status"].native == "malformed_request"


async def test_timestamps_in_process_and_rejections(trust_services: TrustFixture) -> None:
    digest = hashlib.sha256(b"payload").digest()
    token = await trust_services.time_stamper.async_timestamp(digest, "sha256")
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["policy"].dotted == trust_services.services.settings.tsa_policy_oid
    tsa = await trust_services.services.timestamp_authority()
    bad = TimeStampResponse.load(await tsa.respond_der(b"not der"))
    assert bad["status"]["status"].native == "rejection"
    weak = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha1"},
                "hashed_message": hashlib.sha1(b"x").digest(),
            },
        }
    )
    answer = TimeStampResponse.load(await tsa.respond_der(weak.dump()))
    assert answer["status"]["status"].native == "rejection"
    assert answer["status"]["fail_info"].native == {"bad_alg"}
    with pytest.raises(TimestampRequestError):
        await trust_services.time_stamper.async_timestamp(b"short", "sha256")


async def test_authority_reloads_from_catalog(trust_services: TrustFixture) -> None:
    from hoso.signing.trust.service import TrustServices

    again = TrustServices(
        sessions=trust_services.runtime.session,
        keystore=trust_services.services.keystore,
        settings=trust_services.services.settings,
        public_base_url="http://127.0.0.1:8080",
        audit=trust_services.runtime.audit,
    )
    authority = await again.authority()
    assert authority.issuing.certificate == trust_services.authority.issuing.certificate
    assert authority.tsa.key.key_id == trust_services.authority.tsa.key.key_id


async def test_renew_supersedes_old_certificate(trust_services: TrustFixture) -> None:
    old_serial = format(trust_services.agency_seal.certificate.serial_number, "x")
    async with trust_services.session() as session:
        new = await trust_services.services.renew(session, old_serial)
        old = await trust_services.services.get(session, old_serial)
    assert new.renewed_from == old_serial
    assert old.state == "REVOKED" and old.revocation_reason == "superseded"
    assert new.subject == old.subject


async def test_p384_ca_signs_everything_with_sha384(trust_services: TrustFixture) -> None:
    authority = trust_services.authority
    assert authority.issuing.key.algorithm is KeyAlgorithm.EC_P384  # the default CA key type
    crl = x509.load_der_x509_crl(await trust_services.services.current_crl())
    signed_by_ca = [
        authority.root.certificate,
        authority.issuing.certificate,
        authority.tsa.certificate,
        trust_services.official.certificate,
        trust_services.agency_seal.certificate,
    ]
    for signed in [*signed_by_ca, crl]:
        assert isinstance(signed.signature_hash_algorithm, hashes.SHA384), signed
    crl_issuer = authority.issuing.certificate.public_key()
    assert isinstance(crl_issuer, ec.EllipticCurvePublicKey)
    assert crl.is_signature_valid(crl_issuer)  # type: ignore[arg-type]
    # The P-256 OCSP responder key signs its answers with SHA-256.
    responder = await trust_services.services.ocsp_responder()
    assert responder.digest_algorithm == "sha256"
