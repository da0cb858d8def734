"""Byte-level checks that pyHanko does not make, or makes too late to explain.

These close the universal-signature-forgery, signature-wrapping and incremental-saving
classes of pdf-insecurity attacks: a signature whose ``/Contents`` or ``/ByteRange`` is
missing, zero or bent, a ``/ByteRange`` whose gap is not exactly the signature value, and bytes
appended after the last revision that a lenient viewer would still read.
"""

from __future__ import annotations

import binascii
import re

from hoso.signing.verify.findings import Code, Finding
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = ["check_signature_dictionary", "check_trailing_data", "revision_end_offsets"]

_EOF = re.compile(rb"%%EOF")
_WHITESPACE = b"\x00\t\n\x0c\r "


def check_signature_dictionary(data: bytes, sig_object: generic.DictionaryObject) -> list[Finding]:
    """Check ``/Contents`` and ``/ByteRange`` of one signature dictionary against the file.

    Returns:
        Findings that make the signature INVALID; empty when the structure is sound.
    """
    try:
        contents = sig_object.raw_get("/Contents", decrypt=generic.EncryptedObjAccess.RAW)
    except KeyError:
        return [Finding(Code.CONTENTS_MISSING, "/Contents absent")]
    if not isinstance(contents, generic.TextStringObject | generic.ByteStringObject):
        return [Finding(Code.CONTENTS_MISSING, "/Contents is not a string")]
    value = contents.original_bytes
    if not value.rstrip(b"\x00"):
        return [Finding(Code.CONTENTS_MISSING, "/Contents is empty or zero")]

    try:
        byte_range = sig_object.raw_get("/ByteRange")
    except KeyError:
        return [Finding(Code.BYTERANGE_MISSING, "/ByteRange absent")]
    if isinstance(byte_range, generic.IndirectObject):
        # a /ByteRange that can be redirected to another object is not what a signer writes
        return [Finding(Code.BYTERANGE_INVALID, "/ByteRange is an indirect reference")]
    if not isinstance(byte_range, generic.ArrayObject) or len(byte_range) != 4:
        return [Finding(Code.BYTERANGE_MISSING, "/ByteRange is not four numbers")]
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in byte_range):
        return [Finding(Code.BYTERANGE_MISSING, "/ByteRange holds non-integers")]
    start1, len1, start2, len2 = (int(x) for x in byte_range)
    if start1 != 0 or len1 <= 0 or len2 < 0 or start2 <= len1 or start2 + len2 > len(data):
        return [
            Finding(
                Code.BYTERANGE_INVALID,
                f"[{start1} {len1} {start2} {len2}] for a file of {len(data)} bytes",
            )
        ]
    gap = data[len1:start2]
    if len(gap) < 2 or gap[:1] != b"<" or gap[-1:] != b">":
        return [Finding(Code.BYTERANGE_INVALID, "the gap is not a hex string")]
    try:
        gap_value = binascii.unhexlify(re.sub(rb"\s", b"", gap[1:-1]))
    except (binascii.Error, ValueError):
        return [Finding(Code.BYTERANGE_INVALID, "the gap is not a hex string")]
    if gap_value != value:
        return [Finding(Code.BYTERANGE_INVALID, "the gap does not hold this signature's /Contents")]
    # the signed region must end on a revision boundary, i.e. just after an %%EOF marker
    tail = data[start2 : start2 + len2].rstrip(_WHITESPACE)
    if not tail.endswith(b"%%EOF"):
        return [Finding(Code.COVERAGE_INCOMPLETE, "the signed bytes do not end with %%EOF")]
    return []


def revision_end_offsets(reader: PdfFileReader, data: bytes) -> list[int]:
    """Offset just past the ``%%EOF`` that closes each revision, oldest first."""
    ends: list[int] = []
    for revision in range(reader.xrefs.total_revisions):
        after = reader.xrefs.get_xref_container_info(revision).end_location
        match = _EOF.search(data, after)
        ends.append(match.end() if match else len(data))
    return ends


def check_trailing_data(reader: PdfFileReader, data: bytes) -> list[Finding]:
    """Flag bytes after the last revision that belong to no revision.

    A lenient viewer reconstructs objects appended without a cross-reference section (or with a
    trailer pointing back to an old one), so the file can show more than its last revision.
    """
    ends = revision_end_offsets(reader, data)
    last_end = ends[-1] if ends else 0
    tail = data[last_end:]
    if tail.strip(_WHITESPACE):
        return [Finding(Code.TRAILING_DATA, f"{len(tail)} bytes after offset {last_end}")]
    return []
