"""hoso.ocr."""
