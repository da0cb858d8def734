"""Words of the verification pages in Vietnamese (default) and English, NFC-normalised."""

from __future__ import annotations

import unicodedata
from typing import Literal

__all__ = ["LANGUAGES", "Lang", "pick_language", "text"]

Lang = Literal["vi", "en"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en")

_TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Xác thực văn bản ký số", "Verify a digitally signed document"),
    "report_title": ("Kết quả xác thực chữ ký số", "Signature verification report"),
    "switch": ("English", "Tiếng Việt"),
    "skip": ("Bỏ qua đến nội dung", "Skip to content"),
    "document": ("Văn bản", "Document"),
    "file_name": ("Tên tệp", "File name"),
    "dossier": ("Mã hồ sơ", "Dossier code"),
    "archived_at": ("Thời điểm lưu trữ", "Archived at"),
    "version": ("Phiên bản", "Version"),
    "sha256": ("Mã băm SHA-256", "SHA-256 digest"),
    "verdict": ("Kết luận", "Verdict"),
    "checked_at": ("Thời điểm kiểm tra", "Checked at"),
    "revisions": ("Số lần lưu (revision)", "Revisions"),
    "trust_profile": ("Danh sách tin cậy", "Trust profile"),
    "signatures": ("Chữ ký", "Signatures"),
    "signature_n": ("Chữ ký {n}", "Signature {n}"),
    "signer": ("Người ký", "Signer"),
    "signer_subject": ("Chủ thể chứng thư", "Certificate subject"),
    "issuer": ("Tổ chức cấp chứng thư", "Issuer"),
    "serial": ("Số hiệu chứng thư", "Certificate serial"),
    "validity": ("Thời hạn chứng thư", "Certificate validity"),
    "validity_range": ("từ {start} đến {end}", "from {start} to {end}"),
    "signing_time": ("Thời điểm ký", "Signing time"),
    "timestamp": ("Dấu thời gian", "Timestamp"),
    "claimed": ("theo người ký, chưa được chứng thực", "claimed by the signer, not proven"),
    "timestamp_by": ("do {tsa} cấp", "issued by {tsa}"),
    "integrity": ("Toàn vẹn", "Integrity"),
    "integrity_ok": ("Nội dung không bị thay đổi kể từ khi ký", "Content unchanged since signing"),
    "integrity_bad": ("Nội dung đã bị thay đổi hoặc chữ ký hỏng", "Content altered or broken"),
    "valid_at_signing": ("Hiệu lực khi ký", "Valid at signing time"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "revocation": ("Tình trạng thu hồi khi ký", "Revocation status at signing time"),
    "level": ("Mức PAdES", "PAdES level"),
    "coverage": ("Phạm vi ký", "Coverage"),
    "changes": ("Thay đổi sau khi ký", "Changes after signing"),
    "findings": ("Ghi nhận", "Findings"),
    "trusted_anchor": ("Gốc tin cậy", "Trust anchor"),
    "untrusted": ("Không dẫn tới gốc tin cậy nào", "Does not chain to a trusted root"),
    "no_signatures": ("Văn bản không có chữ ký số.", "The document carries no signature."),
    "full_report": ("Báo cáo đầy đủ", "Full report"),
    "upload_heading": ("Kiểm tra một tệp PDF", "Check a PDF file"),
    "upload_help": (
        "Chọn tệp PDF đã ký số để xem kết quả xác thực. Tệp chỉ được dùng để kiểm tra, "
        "không được lưu lại.",
        "Choose a digitally signed PDF to see its verification report. The file is only "
        "checked, never stored.",
    ),
    "upload_label": ("Tệp PDF", "PDF file"),
    "upload_button": ("Xác thực", "Verify"),
    "check_another": ("Kiểm tra tệp khác", "Check another file"),
    "error_title": ("Không thể xác thực", "Cannot verify"),
    "error_no_file": ("Chưa chọn tệp PDF.", "No PDF file was chosen."),
    "error_not_pdf": ("Tệp không phải là PDF: {detail}", "The file is not a PDF: {detail}"),
    "error_too_large": ("Tệp quá lớn: {detail}", "The file is too large: {detail}"),
    "error_not_found": (
        "Không tìm thấy văn bản lưu trữ: {detail}",
        "No such archived document: {detail}",
    ),
    "error_unavailable": (
        "Dịch vụ tạm thời không sẵn sàng, vui lòng thử lại sau.",
        "The service is temporarily unavailable; please try again later.",
    ),
    "qr_claims": ("Thông tin trên mã QR", "Details printed in the QR code"),
    "qr_procedure": ("Mã thủ tục", "Procedure code"),
    "qr_applicant": ("Mã người nộp", "Applicant"),
    "qr_document": ("Tên văn bản", "Document name"),
    "qr_note": (
        "Thông tin này do mã QR cung cấp; chỉ kết quả xác thực ở trên là đáng tin.",
        "These details come from the QR code; only the verification result above is proof.",
    ),
}

_VERDICTS: dict[str, tuple[str, str]] = {
    "VALID": ("Hợp lệ", "Valid"),
    "MODIFIED": ("Đã bị sửa đổi sau khi ký", "Modified after signing"),
    "INVALID": ("Không hợp lệ", "Invalid"),
    "INDETERMINATE": ("Chưa xác định được", "Indeterminate"),
    "UNSIGNED": ("Không có chữ ký", "Unsigned"),
}

_REVOCATION: dict[str, tuple[str, str]] = {
    "GOOD": ("Chưa bị thu hồi", "Not revoked"),
    "REVOKED": ("Đã bị thu hồi", "Revoked"),
    "UNKNOWN": ("Không kiểm tra được", "Could not be checked"),
    "NOT_CHECKED": ("Không kiểm tra", "Not checked"),
}

_COVERAGE: dict[str, tuple[str, str]] = {
    "ENTIRE_FILE": ("Toàn bộ tệp", "The whole file"),
    "ENTIRE_REVISION": ("Toàn bộ phiên bản đã ký", "The whole signed revision"),
    "PARTIAL": ("Một phần (không an toàn)", "Partial (unsafe)"),
}

_MODIFICATION: dict[str, tuple[str, str]] = {
    "NONE": ("Không có", "None"),
    "LTA_UPDATES": ("Chỉ bổ sung dữ liệu kiểm tra dài hạn", "Long-term validation data only"),
    "FORM_FILLING": ("Điền biểu mẫu, thêm chữ ký", "Form filling and further signatures"),
    "ANNOTATIONS": ("Thêm chú thích", "Annotations"),
    "OTHER": ("Thay đổi nội dung", "Content changes"),
}


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def pick_language(requested: str | None) -> Lang:
    """``en`` when asked for, else Vietnamese."""
    return "en" if (requested or "").strip().lower().startswith("en") else "vi"


def text(key: str, lang: Lang, **values: str) -> str:
    """The wording of ``key`` in ``lang`` with ``values`` filled in (values are not escaped)."""
    vi, en = _TEXTS[key]
    return _nfc((en if lang == "en" else vi).format(**values))


def _label(table: dict[str, tuple[str, str]], code: str, lang: Lang) -> str:
    pair = table.get(code)
    if pair is None:
        return code
    return _nfc(pair[1] if lang == "en" else pair[0])


def verdict_label(code: str, lang: Lang) -> str:
    """``VALID`` → ``Hợp lệ`` / ``Valid``."""
    return _label(_VERDICTS, code, lang)


def revocation_label(code: str, lang: Lang) -> str:
    """A revocation status code in words."""
    return _label(_REVOCATION, code, lang)


def coverage_label(code: str, lang: Lang) -> str:
    """A signature coverage code in words."""
    return _label(_COVERAGE, code, lang)


def modification_label(code: str, lang: Lang) -> str:
    """A modification level code in words."""
    return _label(_MODIFICATION, code, lang)


__all__ += ["coverage_label", "modification_label", "revocation_label", "verdict_label"]
