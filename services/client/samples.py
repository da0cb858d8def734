"""Sample documents for the demo and the benchmark: a scanned application, a result document,
a blue signature image and a red seal, all drawn with Pillow from fixed text.
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw, ImageFont

__all__ = ["result_document", "scanned_application", "seal_png", "signature_png"]

_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

APPLICATION_PAGES: tuple[tuple[str, ...], ...] = (
    (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "ĐƠN ĐỀ NGHỊ ĐĂNG KÝ HỘ KINH DOANH",
        "Kính gửi: Ủy ban nhân dân quận Đống Đa",
        "Tôi nộp hồ sơ đăng ký hộ kinh doanh.",
        "Họ và tên: Nguyễn Thị Hương Giang",
    ),
    (
        "DANH SÁCH GIẤY TỜ KÈM THEO",
        "Bản sao căn cước công dân",
        "Hợp đồng thuê địa điểm kinh doanh",
        "Địa chỉ: số 18 đường Nguyễn Trãi, Hà Nội",
    ),
)


def _page(lines: tuple[str, ...], dpi: int, points: float = 12.0) -> Image.Image:
    size = round(points * dpi / 72)
    face = ImageFont.truetype(_FONT, size)
    margin, step = round(0.4 * dpi), round(size * 1.6)
    image = Image.new("L", (round(6.0 * dpi), step * len(lines) + 2 * margin), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((margin, margin + number * step), line, font=face, fill=0)
    return image


def scanned_application(dpi: int = 300) -> bytes:
    """A two-page image-only PDF, as a scanner makes it, with "hồ sơ đăng ký" on page 1."""
    first, *rest = [_page(lines, dpi) for lines in APPLICATION_PAGES]
    out = io.BytesIO()
    first.save(out, format="PDF", save_all=True, append_images=rest, resolution=float(dpi))
    return out.getvalue()


def result_document(title: str = "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH") -> bytes:
    """A one-page A4 result document (image PDF at 150 dpi) with room for signatures."""
    dpi = 150
    image = Image.new("L", (round(8.27 * dpi), round(11.69 * dpi)), 255)
    draw = ImageDraw.Draw(image)
    face = ImageFont.truetype(_FONT, round(12 * dpi / 72))
    lines = (
        "ỦY BAN NHÂN DÂN QUẬN ĐỐNG ĐA",
        "",
        title,
        "Số: 123/GCN-UBND",
        "Cấp cho: Nguyễn Thị Hương Giang",
        "Địa chỉ kinh doanh: số 18 đường Nguyễn Trãi, Hà Nội",
        "",
        "KT. CHỦ TỊCH",
        "PHÓ CHỦ TỊCH",
    )
    for number, line in enumerate(lines):
        draw.text((round(0.8 * dpi), round(0.8 * dpi) + number * 40), line, font=face, fill=0)
    out = io.BytesIO()
    image.save(out, format="PDF", resolution=float(dpi))
    return out.getvalue()


def signature_png() -> bytes:
    """A blue handwritten-looking stroke on a transparent background."""
    image = Image.new("RGBA", (360, 140), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = [(20 + x, 70 + 35 * math.sin(x / 22.0) * math.cos(x / 61.0)) for x in range(320)]
    draw.line(points, fill=(20, 40, 170, 255), width=5)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def seal_png() -> bytes:
    """A red round seal with a star, on a transparent background."""
    size = 400
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    red = (200, 20, 30, 230)
    draw.ellipse((10, 10, size - 10, size - 10), outline=red, width=14)
    draw.ellipse((60, 60, size - 60, size - 60), outline=red, width=6)
    star = [
        (
            size / 2 + (90 if i % 2 == 0 else 36) * math.sin(i * math.pi / 5),
            size / 2 - (90 if i % 2 == 0 else 36) * math.cos(i * math.pi / 5),
        )
        for i in range(10)
    ]
    draw.polygon(star, fill=red)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
