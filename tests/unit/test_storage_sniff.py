"""Content sniffing of archive uploads: types per component, polyglots, encryption, names."""

from __future__ import annotations

import io
import unicodedata
import zipfile

import pikepdf
import pytest
from hoso.common.errors import InvalidArgument
from hoso.storage.errors import DisallowedType, EncryptedPdf
from hoso.storage.names import check_filename
from hoso.storage.settings import StorageSettings
from hoso.storage.sniff import ContentSniffer, SniffPolicy, SniffResult, normalise_media_type
from PIL import Image

from tests.fixtures.archive import make_pdf

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 16), (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def _odt() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), ODT, compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", "<office:document-content/>")
        z.writestr("META-INF/manifest.xml", "<manifest/>")
    return out.getvalue()


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("payload.txt", "hidden")
    return out.getvalue()


def _encrypted_pdf() -> bytes:
    pdf = pikepdf.open(io.BytesIO(make_pdf()))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="chủ", user="khách"))
    return out.getvalue()


SAMPLES = {
    "application/pdf": make_pdf,
    "image/tiff": lambda: _image("TIFF"),
    "image/jpeg": lambda: _image("JPEG"),
    "image/png": lambda: _image("PNG"),
    "application/xml": lambda: b'<?xml version="1.0" encoding="UTF-8"?>\n<hoSo ma="1"/>\n',
    DOCX: _docx,
    ODT: _odt,
}


def sniff(
    data: bytes,
    component: str = "application_form",
    *,
    declared: str | None = None,
    chunk: int = 7919,
    settings: StorageSettings | None = None,
) -> SniffResult:
    """Feed ``data`` in odd-sized chunks (structures straddle chunk borders) and decide."""
    settings = settings or StorageSettings()
    policy = SniffPolicy(
        allowed=frozenset(normalise_media_type(t) for t in settings.allowed_for(component)),
        allow_encrypted_pdf=settings.allow_encrypted_pdf,
        reject_polyglots=settings.reject_polyglots,
        pdf_deep_check_max_bytes=settings.pdf_deep_check_max_bytes,
    )
    sniffer = ContentSniffer(policy)
    try:
        for start in range(0, len(data), chunk):
            sniffer.feed(data[start : start + chunk])
        return sniffer.finish(declared)
    finally:
        sniffer.close()


@pytest.mark.parametrize("media_type", sorted(SAMPLES))
def test_allowed_types_are_detected_from_content(media_type: str) -> None:
    data = SAMPLES[media_type]()
    assert sniff(data, "supporting_document").media_type == media_type
    assert sniff(data, "supporting_document", declared=media_type).media_type == media_type


@pytest.mark.parametrize(
    ("component", "media_type", "allowed"),
    [
        ("identity_document", "image/jpeg", True),
        ("identity_document", "application/pdf", True),
        ("identity_document", DOCX, False),
        ("identity_document", "application/xml", False),
        ("result", "application/xml", True),
        ("result", "image/png", False),
        ("result", ODT, False),
        ("some_future_component", ODT, True),  # the `*` entry
    ],
)
def test_allowlist_per_component_type(component: str, media_type: str, allowed: bool) -> None:
    data = SAMPLES[media_type]()
    if allowed:
        assert sniff(data, component).media_type == media_type
    else:
        with pytest.raises(DisallowedType, match=f"{media_type} is not allowed"):
            sniff(data, component)


def test_configured_allowlist_replaces_the_default() -> None:
    settings = StorageSettings(allowed_types={"*": ["image/png"]})
    assert sniff(SAMPLES["image/png"](), settings=settings).media_type == "image/png"
    with pytest.raises(DisallowedType, match="allowed: image/png"):
        sniff(make_pdf(), settings=settings)


@pytest.mark.parametrize(
    "data",
    [
        b"MZ" + bytes(4094),
        b"\x7fELF\x02\x01\x01" + bytes(4089),
        b"#!/bin/sh\nrm -rf /\n",
    ],
    ids=["exe", "elf", "script"],
)
def test_executables_are_never_archived(data: bytes) -> None:
    with pytest.raises(DisallowedType, match="executable"):
        sniff(data, settings=StorageSettings(allowed_types={"*": ["application/octet-stream"]}))


def test_zip_is_refused_where_not_allowed_and_accepted_where_configured() -> None:
    with pytest.raises(DisallowedType, match="application/zip is not allowed"):
        sniff(_zip())
    settings = StorageSettings(allowed_types={"*": ["application/zip"]})
    assert sniff(_zip(), settings=settings).media_type == "application/zip"


def test_pdf_zip_polyglot_is_refused_even_across_chunk_borders() -> None:
    polyglot = make_pdf(padding=5000) + _zip()
    for chunk in (1, 3, 4096, 1 << 20):
        with pytest.raises(DisallowedType, match="also contains a ZIP"):
            sniff(polyglot, chunk=chunk)
    # Polyglot checks can be turned off for forensic archives (the ZIP is then just bytes).
    relaxed = StorageSettings(reject_polyglots=False)
    assert sniff(polyglot, settings=relaxed).media_type == "application/pdf"


def test_zip_signatures_a_zip_reader_would_not_find_are_not_a_polyglot() -> None:
    # Compressed streams of big scans hold any 4-byte sequence now and then: the ZIP
    # signatures alone, or a whole ZIP followed by more than a ZIP reader searches, are not
    # an archive anyone can open.
    stray = make_pdf(padding=5000).replace(b"%%EOF", b"% PK\x03\x04 PK\x05\x06 PK\x01\x02\n%%EOF")
    assert sniff(stray).media_type == "application/pdf"
    buried = make_pdf(padding=5000) + _zip() + b"%" + bytes(70_000) + b"\n%%EOF\n"
    assert zipfile.is_zipfile(io.BytesIO(make_pdf(padding=5000) + _zip()))
    assert not zipfile.is_zipfile(io.BytesIO(buried))
    assert sniff(buried).media_type == "application/pdf"
    appended = make_pdf(padding=5000) + _zip() + bytes(60_000)
    with pytest.raises(DisallowedType, match="also contains a ZIP"):
        sniff(appended, chunk=65_536)


def test_pdf_announced_above_the_deep_check_size_is_not_spooled() -> None:
    encrypted = _encrypted_pdf()
    policy = SniffPolicy(
        allowed=frozenset({"application/pdf"}), pdf_deep_check_max_bytes=len(encrypted)
    )
    sniffer = ContentSniffer(policy, expected_size=len(encrypted) + 1)
    sniffer.feed(encrypted)
    assert sniffer._spool is None
    with pytest.raises(EncryptedPdf):
        sniffer.finish()


def test_pdf_with_junk_in_front_is_refused() -> None:
    with pytest.raises(DisallowedType, match="not at the start"):
        sniff(b"GIF89a-junk\n" * 4 + make_pdf())


def test_declared_type_must_agree_with_content() -> None:
    with pytest.raises(DisallowedType, match="declared type image/png disagrees") as info:
        sniff(make_pdf(), declared="image/png")
    assert info.value.field == "content_type"
    # aliases and parameters are normalised; octet-stream means "no opinion"
    assert sniff(_image("JPEG"), declared="image/jpg").media_type == "image/jpeg"
    assert sniff(make_pdf(), declared="application/pdf; charset=binary").media_type
    assert sniff(make_pdf(), declared="application/octet-stream").media_type == "application/pdf"


def test_encrypted_pdf_follows_policy() -> None:
    encrypted = _encrypted_pdf()
    with pytest.raises(EncryptedPdf, match="encrypted"):
        sniff(encrypted)
    allowed = StorageSettings(allow_encrypted_pdf=True)
    assert sniff(encrypted, settings=allowed).encrypted_pdf
    # Above the deep-check size the streaming scan (/Encrypt) still finds it.
    streaming = StorageSettings(pdf_deep_check_max_bytes=0)
    with pytest.raises(EncryptedPdf):
        sniff(encrypted, settings=streaming)
    assert not sniff(make_pdf(), settings=streaming).encrypted_pdf


def test_damaged_pdf_is_refused() -> None:
    with pytest.raises(DisallowedType, match="cannot be parsed"):
        sniff(b"%PDF-1.7\n" + bytes(range(256)) * 4)


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "a/b.pdf",
        "a\\b.pdf",
        "scan\x00.pdf",
        "scan\x07.pdf",
        "tờ\u200bkhai.pdf",
        "x\u2028.pdf",
        "",
        ".",
        "..",
        "a" * 256,
    ],
)
def test_bad_filenames_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        check_filename(name)
    assert info.value.field == "header.filename"


def test_filenames_are_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "Tờ khai đăng ký.pdf")
    assert check_filename(decomposed) == unicodedata.normalize("NFC", decomposed)
