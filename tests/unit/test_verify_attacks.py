"""The verifier over the generated corpus: every attack MODIFIED or INVALID, every benign case
VALID (or INDETERMINATE when revocation cannot be checked offline), each with its reason (#5)."""

from __future__ import annotations

import logging

import pytest
from hoso.signing.verify.engine import verify_pdf
from hoso.signing.verify.findings import Code, Verdict
from hoso.signing.verify.profiles import TrustProfile

from tests.fixtures.attacks import AttackCase, TestPki, build_attack_corpus, make_test_pki

_PKI = make_test_pki()
_CASES = build_attack_corpus(_PKI)


@pytest.fixture(autouse=True)
def _quiet_pyhanko(caplog: pytest.LogCaptureFixture) -> None:
    # pyHanko logs every failed path with a traceback; the verdict is what we assert
    caplog.set_level(logging.CRITICAL, logger="pyhanko")


def _profile(pki: TestPki) -> TrustProfile:
    return TrustProfile("hoso-root", (pki.root.der,))


@pytest.mark.parametrize("case", _CASES, ids=[c.name for c in _CASES])
def test_corpus_case_gets_expected_verdict_and_reason(case: AttackCase) -> None:
    result = verify_pdf(case.data, _profile(_PKI))
    codes = {f.code for f in result.findings} | {
        f.code for sig in result.signatures for f in sig.findings
    }
    assert result.verdict == Verdict(case.verdict), (case.description, result.reasons)
    assert Code(case.code) in codes, (case.description, sorted(codes))
    if result.verdict not in (Verdict.VALID, Verdict.UNSIGNED):
        assert result.reasons, "a negative verdict must carry its reason"


def test_every_attack_class_is_covered() -> None:
    names = {c.name for c in _CASES}
    for prefix in (
        "isa_",
        "signature_wrapping",
        "usf_",
        "shadow_hide",
        "shadow_replace",
        "shadow_hide_and_replace",
        "evil_annotation",
        "sneaky_signature",
    ):
        assert any(n.startswith(prefix) for n in names), prefix
    assert all(
        c.verdict in ("VALID", "UNSIGNED", "INDETERMINATE")
        for c in _CASES
        if c.name.startswith("benign_")
    )
    attacks = [c for c in _CASES if not c.name.startswith("benign_")]
    assert all(c.verdict in ("MODIFIED", "INVALID") for c in attacks)


def test_own_lt_signature_verifies_offline_with_revocation_at_signing_time() -> None:
    case = next(c for c in _CASES if c.name == "benign_lt")
    result = verify_pdf(case.data, _profile(_PKI))
    (sig,) = result.signatures
    assert sig.verdict == Verdict.VALID
    assert sig.pades_level == "B-LT"
    assert sig.revocation_checked and sig.revocation_source == "embedded"
    assert sig.timestamp is not None and sig.timestamp.trusted
    assert sig.signer is not None and sig.signer.subject_cn == "Nguyễn Văn An"
    assert sig.chain[-1].subject_cn == "Hoso Test Root CA"


def test_wrong_trust_profile_makes_a_good_signature_invalid() -> None:
    case = next(c for c in _CASES if c.name == "benign_lt")
    stranger = TrustProfile("custom", (_PKI.stranger_root.der,))
    result = verify_pdf(case.data, stranger)
    assert result.verdict == Verdict.INVALID
    assert any(f.code == Code.CHAIN_UNTRUSTED for f in result.signatures[0].findings)


def test_empty_trust_profile_trusts_nothing() -> None:
    case = next(c for c in _CASES if c.name == "benign_lt")
    result = verify_pdf(case.data, TrustProfile("empty", ()))
    assert result.verdict == Verdict.INVALID


def test_benign_later_signature_keeps_both_signatures_valid() -> None:
    case = next(c for c in _CASES if c.name == "benign_later_signature")
    result = verify_pdf(case.data, _profile(_PKI))
    assert [s.verdict for s in result.signatures] == [Verdict.VALID, Verdict.VALID]
