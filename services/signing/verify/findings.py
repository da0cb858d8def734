"""Finding codes, the verdict each one implies, and their wording in Vietnamese and English.

A finding is one fact the verifier establishes about a signature or a document. Its code is
stable (clients and tests match on it); its wording is for people. Every code has both
wordings, NFC-normalised, and implies at most one verdict: the document's and each
signature's verdict is the worst verdict implied by its findings.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Code", "Finding", "Lang", "Verdict", "describe", "verdict_of"]

Lang = Literal["vi", "en"]


class Verdict(enum.StrEnum):
    """The answer for a signature or a document, from best to worst (see :data:`_RANK`)."""

    VALID = "VALID"
    """Intact, trusted at signing time, and nothing a reader sees changed afterwards."""
    INDETERMINATE = "INDETERMINATE"
    """Nothing is wrong that we can see, but something could not be checked (the reason says)."""
    MODIFIED = "MODIFIED"
    """The signature is valid, but a later revision changed what a reader sees or what the
    certification forbids."""
    INVALID = "INVALID"
    """Broken, untrusted or revoked at signing time, or malformed."""
    UNSIGNED = "UNSIGNED"
    """The document carries no signature: a result, not an error."""


_RANK = {
    Verdict.UNSIGNED: 0,
    Verdict.VALID: 1,
    Verdict.INDETERMINATE: 2,
    Verdict.MODIFIED: 3,
    Verdict.INVALID: 4,
}


class Code(enum.StrEnum):
    """Stable finding codes."""

    # integrity and structure
    INTACT = "INTACT"
    DIGEST_MISMATCH = "DIGEST_MISMATCH"
    SIGNATURE_VALUE_INVALID = "SIGNATURE_VALUE_INVALID"
    CMS_MALFORMED = "CMS_MALFORMED"
    CONTENTS_MISSING = "CONTENTS_MISSING"
    BYTERANGE_MISSING = "BYTERANGE_MISSING"
    BYTERANGE_INVALID = "BYTERANGE_INVALID"
    COVERAGE_INCOMPLETE = "COVERAGE_INCOMPLETE"
    UNSUPPORTED_SUBFILTER = "UNSUPPORTED_SUBFILTER"
    MALFORMED_PDF = "MALFORMED_PDF"
    # trust at signing time
    TRUSTED = "TRUSTED"
    CHAIN_UNTRUSTED = "CHAIN_UNTRUSTED"
    CERT_REVOKED = "CERT_REVOKED"
    CERT_EXPIRED = "CERT_EXPIRED"
    CERT_NOT_YET_VALID = "CERT_NOT_YET_VALID"
    KEY_USAGE_INVALID = "KEY_USAGE_INVALID"
    WEAK_ALGORITHM = "WEAK_ALGORITHM"
    REVOCATION_UNCHECKED = "REVOCATION_UNCHECKED"
    REVOCATION_UNCHECKED_WARNING = "REVOCATION_UNCHECKED_WARNING"
    CHAIN_INDETERMINATE = "CHAIN_INDETERMINATE"
    # time
    TIMESTAMP_VALID = "TIMESTAMP_VALID"
    TIMESTAMP_INVALID = "TIMESTAMP_INVALID"
    TIMESTAMP_UNTRUSTED = "TIMESTAMP_UNTRUSTED"
    NO_TIMESTAMP = "NO_TIMESTAMP"
    # what happened after signing
    UNCHANGED = "UNCHANGED"
    LTA_UPDATES = "LTA_UPDATES"
    LATER_SIGNATURE = "LATER_SIGNATURE"
    EMPTY_FIELD_FILLED = "EMPTY_FIELD_FILLED"
    DISALLOWED_CHANGES = "DISALLOWED_CHANGES"
    DOCMDP_VIOLATION = "DOCMDP_VIOLATION"
    PREFILLED_FIELD_CHANGED = "PREFILLED_FIELD_CHANGED"
    OVERLAY_ON_SIGNED_CONTENT = "OVERLAY_ON_SIGNED_CONTENT"
    SIGNATURE_OVER_SIGNATURE = "SIGNATURE_OVER_SIGNATURE"
    VISUAL_CHANGE = "VISUAL_CHANGE"
    TRAILING_DATA = "TRAILING_DATA"
    # document level
    UNSIGNED = "UNSIGNED"


@dataclass(frozen=True)
class _Meaning:
    implies: Verdict | None
    vi: str
    en: str


_V, _M, _I, _X = Verdict.VALID, Verdict.MODIFIED, Verdict.INVALID, Verdict.INDETERMINATE

_MEANINGS: dict[Code, _Meaning] = {
    Code.INTACT: _Meaning(
        None,
        "Toàn vẹn: dữ liệu được ký không bị thay đổi và giá trị chữ ký đúng.",
        "Integrity: the signed bytes are unchanged and the signature value is correct.",
    ),
    Code.DIGEST_MISMATCH: _Meaning(
        _I,
        "Giá trị băm của dữ liệu được ký không khớp: nội dung đã bị sửa sau khi ký.",
        "The digest of the signed bytes does not match: the content was altered after signing.",
    ),
    Code.SIGNATURE_VALUE_INVALID: _Meaning(
        _I,
        "Giá trị chữ ký không hợp lệ với khóa công khai của người ký.",
        "The signature value does not verify with the signer's public key.",
    ),
    Code.CMS_MALFORMED: _Meaning(
        _I,
        "Dữ liệu chữ ký (CMS) bị hỏng hoặc không đọc được.",
        "The signature data (CMS) is damaged or unreadable.",
    ),
    Code.CONTENTS_MISSING: _Meaning(
        _I,
        "Trường /Contents của chữ ký bị thiếu, rỗng hoặc chỉ chứa số 0.",
        "The signature's /Contents is missing, empty or all zeros.",
    ),
    Code.BYTERANGE_MISSING: _Meaning(
        _I,
        "Chữ ký không có /ByteRange hợp lệ: không xác định được phần được ký.",
        "The signature has no usable /ByteRange: what it signs cannot be determined.",
    ),
    Code.BYTERANGE_INVALID: _Meaning(
        _I,
        "/ByteRange sai cấu trúc: vượt ngoài tệp, chồng lấn, hoặc khoảng trống không phải "
        "đúng giá trị /Contents của chữ ký.",
        "The /ByteRange is malformed: outside the file, overlapping, or its gap is not exactly "
        "the signature's /Contents.",
    ),
    Code.COVERAGE_INCOMPLETE: _Meaning(
        _I,
        "Chữ ký không bao phủ toàn bộ phiên bản tài liệu đã ký (dấu hiệu tấn công bọc chữ ký).",
        "The signature does not cover the whole revision it signs (a signature wrapping sign).",
    ),
    Code.UNSUPPORTED_SUBFILTER: _Meaning(
        _I,
        "Định dạng chữ ký (/SubFilter) không được hỗ trợ hoặc không khai báo.",
        "The signature format (/SubFilter) is unsupported or missing.",
    ),
    Code.MALFORMED_PDF: _Meaning(
        _I,
        "Tệp PDF bị hỏng hoặc bị cắt cụt, không đọc được.",
        "The PDF file is damaged or truncated and cannot be read.",
    ),
    Code.TRUSTED: _Meaning(
        None,
        "Chứng thư số chuỗi về một gốc tin cậy và còn hiệu lực tại thời điểm ký.",
        "The certificate chains to a trust anchor and was valid at signing time.",
    ),
    Code.CHAIN_UNTRUSTED: _Meaning(
        _I,
        "Chứng thư số không chuỗi về gốc tin cậy nào trong hồ sơ tin cậy đã chọn.",
        "The certificate does not chain to any anchor of the chosen trust profile.",
    ),
    Code.CERT_REVOKED: _Meaning(
        _I,
        "Chứng thư số của người ký đã bị thu hồi trước thời điểm ký.",
        "The signer's certificate was revoked before the signing time.",
    ),
    Code.CERT_EXPIRED: _Meaning(
        _I,
        "Chứng thư số đã hết hạn tại thời điểm ký.",
        "The certificate had expired at signing time.",
    ),
    Code.CERT_NOT_YET_VALID: _Meaning(
        _I,
        "Chứng thư số chưa có hiệu lực tại thời điểm ký.",
        "The certificate was not yet valid at signing time.",
    ),
    Code.KEY_USAGE_INVALID: _Meaning(
        _I,
        "Mục đích sử dụng khóa của chứng thư số không cho phép ký tài liệu.",
        "The certificate's key usage does not allow signing documents.",
    ),
    Code.WEAK_ALGORITHM: _Meaning(
        _I,
        "Chữ ký dùng thuật toán hoặc độ dài khóa không còn an toàn.",
        "The signature uses an algorithm or key size that is no longer safe.",
    ),
    Code.REVOCATION_UNCHECKED: _Meaning(
        _X,
        "Cảnh báo: không kiểm tra được tình trạng thu hồi của chứng thư số tại thời điểm ký "
        "(không có dữ liệu OCSP/CRL kèm theo và không được phép tra cứu trực tuyến).",
        "Warning: the certificate's revocation status at signing time could not be checked "
        "(no embedded OCSP/CRL data and online look-up not allowed).",
    ),
    Code.REVOCATION_UNCHECKED_WARNING: _Meaning(
        None,
        "Cảnh báo: không kiểm tra được tình trạng thu hồi của chứng thư số tại thời điểm ký; "
        "hồ sơ tin cậy đã chọn không bắt buộc kiểm tra này.",
        "Warning: the certificate's revocation status at signing time could not be checked; "
        "the chosen trust profile does not require it.",
    ),
    Code.CHAIN_INDETERMINATE: _Meaning(
        _X,
        "Không xác định được hiệu lực của chuỗi chứng thư số.",
        "The validity of the certificate chain could not be determined.",
    ),
    Code.TIMESTAMP_VALID: _Meaning(
        None,
        "Dấu thời gian của chữ ký hợp lệ và do đơn vị cấp dấu thời gian tin cậy cấp.",
        "The signature timestamp is valid and issued by a trusted time-stamping authority.",
    ),
    Code.TIMESTAMP_INVALID: _Meaning(
        _I,
        "Dấu thời gian bị hỏng hoặc không khớp với chữ ký.",
        "The timestamp is broken or does not match the signature.",
    ),
    Code.TIMESTAMP_UNTRUSTED: _Meaning(
        _X,
        "Dấu thời gian không do đơn vị tin cậy cấp hoặc không kiểm tra được.",
        "The timestamp is not from a trusted authority or could not be checked.",
    ),
    Code.NO_TIMESTAMP: _Meaning(
        None,
        "Chữ ký không có dấu thời gian: thời điểm ký chỉ do người ký tự khai.",
        "The signature has no timestamp: the signing time is only claimed by the signer.",
    ),
    Code.UNCHANGED: _Meaning(
        None,
        "Tài liệu không thay đổi sau khi ký.",
        "The document has not changed since it was signed.",
    ),
    Code.LTA_UPDATES: _Meaning(
        None,
        "Sau khi ký chỉ bổ sung dữ liệu kiểm tra dài hạn (DSS, dấu thời gian tài liệu).",
        "Only long-term validation data (DSS, document timestamps) was added after signing.",
    ),
    Code.LATER_SIGNATURE: _Meaning(
        None,
        "Có chữ ký hợp lệ được thêm sau, không che nội dung đã ký.",
        "A later signature was added without covering signed content.",
    ),
    Code.EMPTY_FIELD_FILLED: _Meaning(
        None,
        "Một trường biểu mẫu còn trống lúc ký đã được điền sau đó.",
        "A form field that was empty at signing time was filled in later.",
    ),
    Code.DISALLOWED_CHANGES: _Meaning(
        _M,
        "Phiên bản sau khi ký đã thay đổi nội dung tài liệu (trang, tài nguyên hoặc cấu trúc).",
        "A later revision changed the document's content (pages, resources or structure).",
    ),
    Code.DOCMDP_VIOLATION: _Meaning(
        _M,
        "Thay đổi sau khi ký vượt quá mức cho phép của chữ ký chứng nhận (DocMDP/FieldMDP).",
        "Changes after signing exceed what the certification signature allows (DocMDP/FieldMDP).",
    ),
    Code.PREFILLED_FIELD_CHANGED: _Meaning(
        _M,
        "Một trường biểu mẫu đã có giá trị hoặc hình hiển thị lúc ký đã bị thay đổi sau đó.",
        "A form field that already had a value or appearance at signing time was changed later.",
    ),
    Code.OVERLAY_ON_SIGNED_CONTENT: _Meaning(
        _M,
        "Một chú thích hoặc chữ ký thêm sau có hình hiển thị đè lên nội dung đã ký.",
        "A later annotation or signature draws its appearance over signed content.",
    ),
    Code.SIGNATURE_OVER_SIGNATURE: _Meaning(
        None,
        "Một chữ ký thêm sau có hình hiển thị đè lên hình chữ ký trước đó (như dấu cơ quan đóng "
        "trùm lên chữ ký theo Nghị định 30/2020), không che nội dung khác đã ký.",
        "A later signature's appearance overlaps an earlier signature's appearance (as an "
        "agency seal over the signer's image under Decree 30/2020), and no other signed content.",
    ),
    Code.VISUAL_CHANGE: _Meaning(
        _M,
        "Hình hiển thị của trang đã thay đổi so với lúc ký ngoài các vùng được phép.",
        "What a page shows changed since signing outside the permitted areas.",
    ),
    Code.TRAILING_DATA: _Meaning(
        _M,
        "Có dữ liệu được nối thêm vào cuối tệp ngoài mọi phiên bản hợp lệ (tấn công lưu tăng dần).",
        "Data was appended after the last valid revision (an incremental saving attack).",
    ),
    Code.UNSIGNED: _Meaning(
        Verdict.UNSIGNED,
        "Tài liệu không có chữ ký số nào.",
        "The document carries no digital signature.",
    ),
}


@dataclass(frozen=True)
class Finding:
    """One established fact: a code plus optional details (names, revisions, pages)."""

    code: Code
    detail: str = ""
    revision: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def implies(self) -> Verdict | None:
        """The verdict this finding implies, or ``None`` when it is informational."""
        return _MEANINGS[self.code].implies

    def text(self, lang: Lang) -> str:
        """The finding in a sentence, with its detail appended."""
        base = describe(self.code, lang)
        return f"{base} ({self.detail})" if self.detail else base


def describe(code: Code, lang: Lang) -> str:
    """The wording of ``code`` in ``lang`` (NFC-normalised)."""
    meaning = _MEANINGS[code]
    return unicodedata.normalize("NFC", meaning.vi if lang == "vi" else meaning.en)


def verdict_of(findings: list[Finding], *, baseline: Verdict = Verdict.VALID) -> Verdict:
    """The worst verdict implied by ``findings``, starting from ``baseline``."""
    worst = baseline
    for finding in findings:
        implied = finding.implies
        if implied is not None and _RANK[implied] > _RANK[worst]:
            worst = implied
    return worst


def worst(verdicts: list[Verdict]) -> Verdict:
    """The worst of several verdicts (``UNSIGNED`` when there are none)."""
    return max(verdicts, key=_RANK.__getitem__, default=Verdict.UNSIGNED)


__all__ += ["worst"]
