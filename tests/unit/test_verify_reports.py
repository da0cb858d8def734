"""Finding wordings, the ETSI-shaped JSON, the human report, limits and the CLI (#5)."""

from __future__ import annotations

import json
import logging
import unicodedata
from pathlib import Path

import pytest
from hoso.signing.verify.engine import VerifyLimits, VerifyOptions, verify_pdf
from hoso.signing.verify.errors import EncryptedDocument, NotAPdf, TooComplex
from hoso.signing.verify.findings import Code, Verdict, describe
from hoso.signing.verify.profiles import TrustProfile, parse_anchor
from hoso.signing.verify.report_json import to_etsi_dict
from hoso.signing.verify.report_text import render_text
from typer.testing import CliRunner

from tests.fixtures.attacks import AttackCase, TestPki


@pytest.fixture(autouse=True)
def _quiet_pyhanko(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="pyhanko")


@pytest.mark.parametrize("code", list(Code))
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_code_has_an_nfc_wording_in_both_languages(code: Code, lang: str) -> None:
    text = describe(code, lang)  # type: ignore[arg-type]
    assert text and text == unicodedata.normalize("NFC", text)
    assert text != describe(code, "en" if lang == "vi" else "vi")  # type: ignore[arg-type]


def test_vietnamese_wordings_are_vietnamese() -> None:
    assert "thu hồi" in describe(Code.CERT_REVOKED, "vi")
    assert "revoked" in describe(Code.CERT_REVOKED, "en")


def _profile(pki: TestPki) -> TrustProfile:
    return TrustProfile("hoso-root", (pki.root.der,))


def test_json_report_is_etsi_shaped(
    attack_corpus: dict[str, AttackCase], test_pki: TestPki
) -> None:
    result = verify_pdf(attack_corpus["benign_lt"].data, _profile(test_pki))
    report = json.loads(json.dumps(to_etsi_dict(result, "en")))["ValidationReport"]
    assert report["DocumentVerdict"] == "VALID"
    (sig,) = report["SignatureValidationReport"]
    assert sig["ValidationStatus"]["MainIndication"].endswith("total-passed")
    assert sig["SignatureQuality"]["SignatureQualityInformation"] == "B-LT"
    assert sig["SignerInformation"]["Signer"] == "Nguyễn Văn An"
    assert sig["SignatureAttributes"]["SignatureTimeStamp"]["Trusted"] is True
    assert sig["ValidationTimeInfo"]["BestSignatureTime"]["POETime"].endswith("Z")


def test_json_report_names_the_reason_of_a_failure(
    attack_corpus: dict[str, AttackCase], test_pki: TestPki
) -> None:
    result = verify_pdf(attack_corpus["revoked_signer"].data, _profile(test_pki))
    sig = to_etsi_dict(result)["ValidationReport"]["SignatureValidationReport"][0]
    assert sig["ValidationStatus"]["MainIndication"].endswith("total-failed")
    assert sig["ValidationStatus"]["SubIndication"] == [
        "urn:etsi:019102:subindication:REVOKED_NO_POE"
    ]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_text_report_shows_what_an_auditor_needs(
    lang: str, attack_corpus: dict[str, AttackCase], test_pki: TestPki
) -> None:
    result = verify_pdf(attack_corpus["benign_lt"].data, _profile(test_pki))
    text = render_text(result, lang)  # type: ignore[arg-type]
    assert text == unicodedata.normalize("NFC", text)
    assert "Nguyễn Văn An" in text and "Hoso Test Root CA" in text
    assert "+07:00" in text
    assert ("HỢP LỆ" if lang == "vi" else "VALID") in text
    assert ("Hiệu lực chứng thư" if lang == "vi" else "Certificate validity") in text


def test_not_a_pdf_is_refused(test_pki: TestPki) -> None:
    with pytest.raises(NotAPdf) as info:
        verify_pdf(b"GIF89a not a pdf", _profile(test_pki))
    assert info.value.status == "INVALID_ARGUMENT" and "not a PDF" in info.value.message


def test_too_many_objects_is_resource_exhausted(
    attack_corpus: dict[str, AttackCase], test_pki: TestPki
) -> None:
    limits = VerifyLimits(max_objects=5)
    with pytest.raises(TooComplex) as info:
        verify_pdf(
            attack_corpus["benign_lt"].data, _profile(test_pki), VerifyOptions(limits=limits)
        )
    assert info.value.status == "RESOURCE_EXHAUSTED" and "max_objects" in info.value.message


def test_too_large_is_resource_exhausted(test_pki: TestPki) -> None:
    with pytest.raises(TooComplex):
        verify_pdf(
            b"%PDF-1.7\n" + b" " * 100,
            _profile(test_pki),
            VerifyOptions(limits=VerifyLimits(max_bytes=50)),
        )


def test_encrypted_pdf_is_failed_precondition(tmp_path: Path, test_pki: TestPki) -> None:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "e.pdf", encryption=pikepdf.Encryption(owner="o", user="u"))
    with pytest.raises(EncryptedDocument) as info:
        verify_pdf((tmp_path / "e.pdf").read_bytes(), _profile(test_pki))
    assert info.value.status == "FAILED_PRECONDITION"


@pytest.mark.parametrize("cut", [10, 200, 1000])
def test_damaged_files_never_crash(
    cut: int, attack_corpus: dict[str, AttackCase], test_pki: TestPki
) -> None:
    data = attack_corpus["benign_lt"].data
    result = verify_pdf(
        data[:cut] + b"garbage" + data[cut + 40 : len(data) // 3], _profile(test_pki)
    )
    assert result.verdict in (Verdict.INVALID, Verdict.UNSIGNED)


def test_parse_anchor_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="certificate"):
        parse_anchor(b"not a certificate")


def test_cli_exit_code_reflects_the_verdict(
    tmp_path: Path, attack_corpus: dict[str, AttackCase], test_pki: TestPki
) -> None:
    import typer
    from hoso.cli.verify import EXIT_CODES, verify

    app = typer.Typer()
    app.command()(verify)
    (tmp_path / "root.der").write_bytes(test_pki.root.der)
    runner = CliRunner()
    for name, verdict in (
        ("benign_lt", Verdict.VALID),
        ("shadow_replace_prefilled_field", Verdict.MODIFIED),
        ("revoked_signer", Verdict.INVALID),
    ):
        pdf = tmp_path / f"{name}.pdf"
        pdf.write_bytes(attack_corpus[name].data)
        out = runner.invoke(app, [str(pdf), "--json", "--anchor", str(tmp_path / "root.der")])
        assert out.exit_code == EXIT_CODES[verdict], out.output
        assert json.loads(out.output)["ValidationReport"]["DocumentVerdict"] == verdict.value
    not_pdf = tmp_path / "x.pdf"
    not_pdf.write_bytes(b"hello")
    out = runner.invoke(app, [str(not_pdf), "--lang", "en"])
    assert out.exit_code == 6
    out = runner.invoke(app, [str(not_pdf), "--lang", "fr"])
    assert out.exit_code != 0 and "--lang" in out.output
