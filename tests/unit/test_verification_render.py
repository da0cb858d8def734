"""Rendering of the public verification pages: language, escaping, verdicts, accessibility."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

from google.protobuf.timestamp_pb2 import Timestamp
from hoso.signing.v1 import signing_pb2 as sign_pb
from hoso.signing.v1 import verification_pb2 as pb
from hoso.signing.web.render import (
    ArchivedDocument,
    PageLinks,
    QrClaims,
    render_report,
    render_upload_form,
)
from hoso.signing.web.routes import verification_url
from hoso.signing.web.texts import pick_language

HOSTILE = '<script>alert("x")</script>&"'


def _ts(year: int, month: int, day: int, hour: int = 0) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(dt.datetime(year, month, day, hour, tzinfo=dt.UTC))
    return stamp


def _report(
    verdict: int = pb.VERDICT_VALID, signer_subject: str = "CN=Nguyễn Văn An"
) -> pb.VerificationReport:
    signature = pb.SignatureResult(
        field_name="Chữ ký 1",
        verdict=verdict,
        integrity_ok=True,
        signer=pb.CertificateSummary(
            subject=signer_subject,
            issuer="CN=Hoso Issuing CA",
            serial_hex="1a2b",
            not_before=_ts(2024, 1, 1),
            not_after=_ts(2026, 1, 1),
        ),
        trusted_anchor="hoso root",
        certificate_valid_at_signing_time=True,
        revocation_status=pb.REVOCATION_STATUS_GOOD,
        claimed_signing_time=_ts(2024, 3, 15, 7),
        level=sign_pb.PADES_LEVEL_B_LT,
        coverage=pb.SIGNATURE_COVERAGE_ENTIRE_FILE,
        modification_level=pb.MODIFICATION_LEVEL_NONE,
        findings=[pb.Finding(code="x.y", message_vi="Chữ ký còn nguyên vẹn", message_en="Intact")],
    )
    return pb.VerificationReport(
        verdict=verdict,
        document_sha256="ab" * 32,
        signatures=[signature],
        trust_profile="trustProfiles/default",
        validation_time=_ts(2024, 3, 16),
        revision_count=1,
        human_report=HOSTILE,
    )


class _Collector(HTMLParser):
    """Collects tags, attributes and text; fails on nothing but records script tags."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


LINKS = PageLinks(switch_href="/verify/D-1/a.pdf?lang=en")


def test_report_is_vietnamese_by_default_with_verdict_signer_and_vietnam_time() -> None:
    page = render_report(_report(), "vi", LINKS)
    parsed = _parse(page)
    html_tag = next(attrs for tag, attrs in parsed.tags if tag == "html")
    assert html_tag["lang"] == "vi"
    assert any(tag == "meta" and attrs.get("name") == "viewport" for tag, attrs in parsed.tags)
    text = "".join(parsed.text)
    assert "Hợp lệ (VALID)" in text
    assert "Nguyễn Văn An" in text
    assert "Chữ ký còn nguyên vẹn" in text
    # 07:00 UTC is shown as 14:00 in Vietnam
    assert "2024-03-15 14:00:00+07:00" in text
    assert not any(tag == "script" for tag, _ in parsed.tags)


def test_english_switch_renders_english_words_and_findings() -> None:
    page = render_report(_report(pb.VERDICT_MODIFIED), "en", LINKS)
    parsed = _parse(page)
    assert next(a for t, a in parsed.tags if t == "html")["lang"] == "en"
    text = "".join(parsed.text)
    assert "Modified after signing (MODIFIED)" in text
    assert "Intact" in text and "Chữ ký còn nguyên vẹn" not in text


def test_everything_from_the_document_and_request_is_escaped() -> None:
    report = _report(signer_subject=f"CN={HOSTILE}")
    report.signatures[0].field_name = HOSTILE
    archived = ArchivedDocument("D-1", "dossiers/D-1/files/f/versions/1", HOSTILE, 1, None)
    page = render_report(
        report,
        "vi",
        PageLinks(switch_href=f'/x?a="{HOSTILE}'),
        archived=archived,
        qr=QrClaims(document=HOSTILE),
    )
    parsed = _parse(page)
    assert not any(tag == "script" for tag, _ in parsed.tags)
    assert "<script>" not in page
    # the hostile text is still shown to the reader, as text
    assert HOSTILE in "".join(parsed.text)


def test_upload_form_labels_its_input_and_posts_multipart() -> None:
    parsed = _parse(render_upload_form("vi", PageLinks(switch_href="/verify?lang=en")))
    form = next(a for t, a in parsed.tags if t == "form")
    assert form["method"] == "post" and form["enctype"] == "multipart/form-data"
    file_input = next(a for t, a in parsed.tags if t == "input" and a.get("type") == "file")
    label = next(a for t, a in parsed.tags if t == "label")
    assert label["for"] == file_input["id"]


def test_language_pick_and_verification_url() -> None:
    assert pick_language(None) == "vi"
    assert pick_language("EN") == "en"
    assert pick_language("fr") == "vi"
    assert (
        verification_url("https://hoso.example.vn/", "000.00.01.H26-1", "Quyết định 1/2024.pdf")
        == "https://hoso.example.vn/verify/000.00.01.H26-1/Quy%E1%BA%BFt%20%C4%91%E1%BB%8Bnh"
        "%201%2F2024.pdf"
    )
