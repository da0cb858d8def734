"""Folding for the accent-insensitive dossier search."""

from __future__ import annotations

import unicodedata

import pytest
from hoso.storage.names import fold, search_text


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Đăng ký hộ kinh doanh", "dang ky ho kinh doanh"),
        ("ĐỀ NGHỊ", "de nghi"),
        (unicodedata.normalize("NFD", "Giấy phép xây dựng"), "giay phep xay dung"),
        ("Quảng Ngãi – Sở Tư pháp", "quang ngai – so tu phap"),
        ("000.00.01.H26-250102-0001", "000.00.01.h26-250102-0001"),
    ],
)
def test_fold_removes_tones_marks_and_case(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_search_text_covers_code_and_title() -> None:
    assert search_text("HS-Đ1", "Cấp phép") == "hs-d1\ncap phep"
