"""CAdES detached signatures verified against their file (#5)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hoso.signing.verify.detached import verify_detached
from hoso.signing.verify.findings import Code, Verdict
from hoso.signing.verify.profiles import TrustProfile
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.fixtures.attacks import TestPki

CONTENT = b"<hoSo><maHoSo>000.00.00.H00-261205-0001</maHoSo></hoSo>"


@pytest.fixture(autouse=True)
def _quiet_pyhanko(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="pyhanko")


def _p7s(pki: TestPki, content: bytes) -> bytes:
    signer = signers.SimpleSigner(
        signing_cert=pki.signer.asn1_cert,
        signing_key=pki.signer.asn1_key,
        cert_registry=SimpleCertificateStore.from_certs([pki.root.asn1_cert]),
    )
    info = asyncio.run(
        signer.async_sign_general_data(content, "sha256", detached=True, use_cades=True)
    )
    return info.dump()


def test_detached_signature_with_crl_is_valid(test_pki: TestPki) -> None:
    profile = TrustProfile("hoso-root", (test_pki.root.der,))
    result = verify_detached(CONTENT, _p7s(test_pki, CONTENT), profile, crls=(test_pki.crl_der,))
    sig = result.signatures[0]
    assert result.verdict == Verdict.VALID, result.reasons
    assert sig.intact and sig.signer is not None and sig.signer.subject_cn == "Nguyễn Văn An"


def test_detached_signature_offline_without_revocation_data_is_indeterminate(
    test_pki: TestPki,
) -> None:
    profile = TrustProfile("hoso-root", (test_pki.root.der,))
    result = verify_detached(CONTENT, _p7s(test_pki, CONTENT), profile)
    assert result.verdict == Verdict.INDETERMINATE
    assert Code.REVOCATION_UNCHECKED in {f.code for f in result.signatures[0].findings}


def test_detached_signature_over_another_file_is_invalid(test_pki: TestPki) -> None:
    profile = TrustProfile("hoso-root", (test_pki.root.der,))
    result = verify_detached(CONTENT + b" ", _p7s(test_pki, CONTENT), profile)
    assert result.verdict == Verdict.INVALID
    assert result.signatures[0].findings[0].code == Code.DIGEST_MISMATCH


def test_malformed_cms_is_invalid_not_a_crash(test_pki: TestPki) -> None:
    profile = TrustProfile("hoso-root", (test_pki.root.der,))
    result = verify_detached(CONTENT, b"\x30\x82\x01\x00garbage", profile)
    assert result.verdict == Verdict.INVALID
    assert result.signatures[0].findings[0].code == Code.CMS_MALFORMED


def test_strict_cms_parser_refuses_garbage_and_attached_signatures(test_pki: TestPki) -> None:
    from hoso.common.errors import InvalidArgument
    from hoso.signing.verify.detached import parse_detached_cms
    from hoso.signing.verify.errors import MalformedSignature

    assert parse_detached_cms(_p7s(test_pki, CONTENT))["signer_infos"]
    for bad in (b"", b"\x30\x03\x02\x01\x01", b"not a signature at all"):
        with pytest.raises(MalformedSignature) as caught:
            parse_detached_cms(bad)
        assert isinstance(caught.value, InvalidArgument) and caught.value.field == "header.cms"
    signer = signers.SimpleSigner(
        signing_cert=test_pki.signer.asn1_cert,
        signing_key=test_pki.signer.asn1_key,
        cert_registry=SimpleCertificateStore.from_certs([test_pki.root.asn1_cert]),
    )
    attached = asyncio.run(signer.async_sign_general_data(CONTENT, "sha256", detached=False))
    with pytest.raises(MalformedSignature, match="detached"):
        parse_detached_cms(attached.dump())


def test_profile_without_revocation_requirement_only_warns(test_pki: TestPki) -> None:
    relaxed = TrustProfile("relaxed", (test_pki.root.der,), require_revocation_check=False)
    result = verify_detached(CONTENT, _p7s(test_pki, CONTENT), relaxed)
    codes = {f.code for f in result.signatures[0].findings}
    assert result.verdict == Verdict.VALID, result.reasons
    assert Code.REVOCATION_UNCHECKED_WARNING in codes and Code.REVOCATION_UNCHECKED not in codes
