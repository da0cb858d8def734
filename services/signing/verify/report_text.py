"""The human report, in Vietnamese or English, with times shown in Vietnam time (+07:00)."""

from __future__ import annotations

import datetime as dt
import unicodedata

from hoso.signing.verify.findings import Lang, Verdict
from hoso.signing.verify.model import DocumentResult, SignatureResult

__all__ = ["VN_TZ", "render_text", "verdict_label"]

VN_TZ = dt.timezone(dt.timedelta(hours=7))

_LABELS: dict[str, tuple[str, str]] = {
    "title": ("Báo cáo kiểm tra chữ ký số", "Digital signature verification report"),
    "file": ("Tệp", "File"),
    "sha256": ("Mã băm SHA-256", "SHA-256"),
    "profile": ("Hồ sơ tin cậy", "Trust profile"),
    "checked_at": ("Thời điểm kiểm tra", "Checked at"),
    "verdict": ("Kết luận", "Verdict"),
    "signature": ("Chữ ký", "Signature"),
    "doc_ts": ("Dấu thời gian tài liệu", "Document timestamp"),
    "signer": ("Người ký", "Signer"),
    "issuer": ("Tổ chức cấp chứng thư", "Issuer"),
    "serial": ("Số hiệu chứng thư", "Certificate serial"),
    "validity": ("Hiệu lực chứng thư", "Certificate validity"),
    "signing_time": ("Thời điểm ký (tự khai)", "Signing time (claimed)"),
    "timestamp": ("Dấu thời gian", "Timestamp"),
    "integrity": ("Toàn vẹn", "Integrity"),
    "valid_at_signing": ("Hiệu lực tại thời điểm ký", "Valid at signing time"),
    "level": ("Mức PAdES", "PAdES level"),
    "findings": ("Chi tiết", "Details"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "none": ("Không có", "None"),
    "to": ("đến", "to"),
}

_VERDICTS: dict[Verdict, tuple[str, str]] = {
    Verdict.VALID: ("HỢP LỆ", "VALID"),
    Verdict.MODIFIED: ("ĐÃ BỊ SỬA ĐỔI SAU KHI KÝ", "MODIFIED AFTER SIGNING"),
    Verdict.INVALID: ("KHÔNG HỢP LỆ", "INVALID"),
    Verdict.INDETERMINATE: ("CHƯA XÁC ĐỊNH", "INDETERMINATE"),
    Verdict.UNSIGNED: ("KHÔNG CÓ CHỮ KÝ", "UNSIGNED"),
}


def _t(key: str, lang: Lang) -> str:
    vi, en = _LABELS[key]
    return vi if lang == "vi" else en


def verdict_label(verdict: Verdict, lang: Lang) -> str:
    """The verdict in words."""
    vi, en = _VERDICTS[verdict]
    return vi if lang == "vi" else en


def _vn(value: dt.datetime | None) -> str:
    return value.astimezone(VN_TZ).isoformat(timespec="seconds") if value else "-"


def _signature(sig: SignatureResult, index: int, lang: Lang) -> list[str]:
    head = _t("doc_ts" if sig.kind == "document_timestamp" else "signature", lang)
    lines = [f"{head} {index}: {sig.field_name} — {verdict_label(sig.verdict, lang)}"]
    if sig.signer is not None:
        lines += [
            f"  {_t('signer', lang)}: {sig.signer.subject}",
            f"  {_t('issuer', lang)}: {sig.signer.issuer}",
            f"  {_t('serial', lang)}: {sig.signer.serial_hex}",
            f"  {_t('validity', lang)}: {_vn(sig.signer.not_before)} {_t('to', lang)} "
            f"{_vn(sig.signer.not_after)}",
        ]
    lines.append(f"  {_t('signing_time', lang)}: {_vn(sig.claimed_signing_time)}")
    if sig.timestamp is not None:
        lines.append(
            f"  {_t('timestamp', lang)}: {_vn(sig.timestamp.time)} ({sig.timestamp.authority})"
        )
    else:
        lines.append(f"  {_t('timestamp', lang)}: {_t('none', lang)}")
    yes, no = _t("yes", lang), _t("no", lang)
    lines.append(
        f"  {_t('integrity', lang)}: {yes if sig.intact and sig.signature_value_ok else no}"
    )
    lines.append(f"  {_t('valid_at_signing', lang)}: {yes if sig.trusted else no}")
    if sig.pades_level:
        lines.append(f"  {_t('level', lang)}: {sig.pades_level}")
    lines.append(f"  {_t('findings', lang)}:")
    lines += [f"    - [{f.code.value}] {f.text(lang)}" for f in sig.findings]
    return lines


def render_text(result: DocumentResult, lang: Lang = "vi") -> str:
    """The report as plain text (NFC)."""
    lines = [
        _t("title", lang),
        f"{_t('file', lang)}: {result.file_name or '-'}",
        f"{_t('sha256', lang)}: {result.document_sha256}",
        f"{_t('profile', lang)}: {result.trust_profile}",
        f"{_t('checked_at', lang)}: {_vn(result.validated_at)}",
        f"{_t('verdict', lang)}: {verdict_label(result.verdict, lang)}",
    ]
    lines += [f"  - [{f.code.value}] {f.text(lang)}" for f in result.findings]
    for index, sig in enumerate(result.signatures, 1):
        lines.append("")
        lines += _signature(sig, index, lang)
    return unicodedata.normalize("NFC", "\n".join(lines) + "\n")
