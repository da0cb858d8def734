"""What changed after a signature, beyond pyHanko's verdict on the same revisions.

pyHanko's difference analysis rates a change of any form field's value as harmless form
filling. That is the *replace* shadow attack: a field that already showed something when the
document was signed is rewritten later. Here every field and annotation is fingerprinted at the
signed revision and at the last revision, so such rewrites are named, empty fields filled later
are told apart, and new or changed annotations are handed to the visual comparison.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from hoso.signing.verify.model import RevisionChange
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = [
    "AnnotationState",
    "FieldState",
    "Snapshot",
    "summarise_revision",
    "summarise_revisions",
    "take_snapshot",
]

Rect = tuple[float, float, float, float]

# operators that put something visible on the page besides lines and fills: text and images
_CONTENT_OPS = re.compile(rb"(?:\bTj\b|\bTJ\b|'|\"|\bDo\b|\bBI\b)")


@dataclass(frozen=True)
class FieldState:
    """A form field as a reader would see it at one revision."""

    name: str
    field_type: str
    fingerprint: str
    has_content: bool
    widget_ids: tuple[int, ...]


@dataclass(frozen=True)
class AnnotationState:
    """A page annotation (or widget) at one revision."""

    object_id: int
    page: int
    subtype: str
    rect: Rect
    fingerprint: str
    hidden: bool


@dataclass
class Snapshot:
    """Fields and annotations of one revision."""

    fields: dict[str, FieldState] = field(default_factory=dict)
    annotations: dict[int, AnnotationState] = field(default_factory=dict)
    page_boxes: list[Rect] = field(default_factory=list)


def _digest_object(obj: object, hasher: hashlib._Hash, depth: int = 0) -> None:
    """Hash the value of a PDF object, following references (bounded) and stream data."""
    if depth > 8:
        hasher.update(b"<deep>")
        return
    if isinstance(obj, generic.IndirectObject):
        obj = obj.get_object()
    if isinstance(obj, generic.StreamObject):
        hasher.update(b"stream")
        try:
            hasher.update(obj.data)
        except Exception:  # an undecodable stream still has an identity
            hasher.update(obj.encoded_data or b"")
        for key in sorted(k for k in obj if k not in ("/Length", "/Filter", "/DecodeParms")):
            hasher.update(str(key).encode())
            _digest_object(obj.raw_get(key), hasher, depth + 1)
    elif isinstance(obj, generic.DictionaryObject):
        hasher.update(b"dict")
        for key in sorted(obj):
            if key in ("/P", "/Parent", "/Kids"):
                continue  # back-links would pull in the whole page or tree
            hasher.update(str(key).encode())
            _digest_object(obj.raw_get(key), hasher, depth + 1)
    elif isinstance(obj, generic.ArrayObject):
        hasher.update(b"array")
        for item in obj:
            _digest_object(item, hasher, depth + 1)
    else:
        hasher.update(repr(obj).encode("utf-8", "replace"))


def _fingerprint(*objs: object) -> str:
    hasher = hashlib.sha256()
    for obj in objs:
        _digest_object(obj, hasher)
    return hasher.hexdigest()


def _appearance_has_content(widget: generic.DictionaryObject) -> bool:
    """Whether a widget's normal appearance draws text or images (not just a border)."""
    try:
        normal = widget["/AP"]["/N"]
    except (KeyError, TypeError):
        return False
    streams = []
    if isinstance(normal, generic.StreamObject):
        streams.append(normal)
    elif isinstance(normal, generic.DictionaryObject):
        streams += [v.get_object() for v in normal.values()]
    for stream in streams:
        try:
            if isinstance(stream, generic.StreamObject) and _CONTENT_OPS.search(stream.data):
                return True
        except Exception:
            return True  # cannot tell: assume it shows something
    return False


def _rect(annot: generic.DictionaryObject) -> Rect:
    try:
        x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
    except (KeyError, TypeError, ValueError):
        return (0.0, 0.0, 0.0, 0.0)
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _walk_fields(
    fields_array: generic.ArrayObject, prefix: str, out: dict[str, FieldState], depth: int = 0
) -> None:
    if depth > 16:
        return
    for ref in fields_array:
        fld = ref.get_object()
        if not isinstance(fld, generic.DictionaryObject):
            continue
        partial = str(fld.get("/T", ""))
        name = f"{prefix}.{partial}" if prefix and partial else partial or prefix
        kids = fld.get("/Kids")
        widget_kids = []
        if isinstance(kids, generic.ArrayObject):
            named_kids = generic.ArrayObject(k for k in kids if "/T" in k.get_object())
            widget_kids = [k for k in kids if "/T" not in k.get_object()]
            if named_kids:
                _walk_fields(named_kids, name, out, depth + 1)
        widgets = [fld] if "/Rect" in fld else [k.get_object() for k in widget_kids]
        if not widgets and "/V" not in fld:
            continue
        field_type = str(fld.get("/FT", ""))
        value = fld.get("/V")
        has_value = value is not None and str(value) not in ("", "/Off")
        if field_type == "/Sig":
            has_value = value is not None
        out[name] = FieldState(
            name=name,
            field_type=field_type,
            fingerprint=_fingerprint(value, *(w.get("/AP") for w in widgets)),
            has_content=has_value or any(_appearance_has_content(w) for w in widgets),
            widget_ids=tuple(
                r.idnum
                for r in ([ref] if "/Rect" in fld else widget_kids)
                if isinstance(r, generic.IndirectObject)
            ),
        )


def take_snapshot(reader: PdfFileReader, revision: int) -> Snapshot:
    """Fingerprint the fields and annotations of ``revision`` (the oldest is 0)."""
    resolver = reader.get_historical_resolver(revision)
    root = resolver.root
    snap = Snapshot()
    try:
        fields_array = root["/AcroForm"]["/Fields"]
        if isinstance(fields_array, generic.ArrayObject):
            _walk_fields(fields_array, "", snap.fields)
    except KeyError:
        pass
    for page_index, page in enumerate(_pages(root["/Pages"])):
        try:
            box = tuple(float(v) for v in page["/MediaBox"])
            snap.page_boxes.append(box if len(box) == 4 else (0.0, 0.0, 612.0, 792.0))
        except KeyError:
            snap.page_boxes.append((0.0, 0.0, 612.0, 792.0))
        annots = page.get("/Annots")
        if isinstance(annots, generic.IndirectObject):
            annots = annots.get_object()
        if not isinstance(annots, generic.ArrayObject):
            continue
        for ref in annots:
            if not isinstance(ref, generic.IndirectObject):
                continue
            annot = ref.get_object()
            if not isinstance(annot, generic.DictionaryObject):
                continue
            flags = int(annot.get("/F", 0)) if isinstance(annot.get("/F", 0), int) else 0
            snap.annotations[ref.idnum] = AnnotationState(
                object_id=ref.idnum,
                page=page_index,
                subtype=str(annot.get("/Subtype", "")),
                rect=_rect(annot),
                fingerprint=_fingerprint(annot),
                hidden=bool(flags & 0b10) or bool(flags & 0b100000),
            )
    return snap


def _pages(node: object, depth: int = 0):
    """Yield the page dictionaries of a page tree in order (bounded depth, no cycles)."""
    node = node.get_object() if isinstance(node, generic.IndirectObject) else node
    if depth > 32 or not isinstance(node, generic.DictionaryObject):
        return
    if node.get("/Type") == "/Page" or "/Kids" not in node:
        yield node
        return
    for kid in node["/Kids"]:
        yield from _pages(kid, depth + 1)


def _kind_of(obj: object) -> str:
    if isinstance(obj, generic.StreamObject):
        subtype = obj.get("/Subtype")
        if obj.get("/Type") == "/XRef":
            return "xref"
        if obj.get("/Type") == "/ObjStm":
            return "object_stream"
        return "xobject" if subtype in ("/Form", "/Image") else "stream"
    if not isinstance(obj, generic.DictionaryObject):
        return "other"
    obj_type = obj.get("/Type")
    if obj_type in ("/Sig", "/DocTimeStamp"):
        return "signature_value"
    if obj_type == "/Catalog":
        return "catalog"
    if obj_type in ("/Page", "/Pages"):
        return "page"
    if obj_type == "/Font":
        return "font"
    if obj.get("/FT") is not None or obj.get("/Subtype") == "/Widget":
        return "form_field"
    if obj_type == "/Annot" or ("/Subtype" in obj and "/Rect" in obj):
        return "annotation"
    if "/Fields" in obj:
        return "acroform"
    if any(k in obj for k in ("/VRI", "/OCSPs", "/CRLs", "/Certs")):
        return "dss"
    return "other"


def summarise_revision(reader: PdfFileReader, revision: int) -> RevisionChange:
    """Describe one revision by the kinds of objects it writes."""
    refs = reader.xrefs.explicit_refs_in_revision(revision)
    resolver = reader.get_historical_resolver(revision)
    kinds: Counter[str] = Counter()
    for ref in refs:
        try:
            kinds[_kind_of(resolver(ref))] += 1
        except Exception:
            kinds["unreadable"] += 1
    return RevisionChange(revision=revision, objects_changed=len(refs), kinds=tuple(sorted(kinds)))


def summarise_revisions(
    reader: PdfFileReader, after: int, cache: dict[int, RevisionChange] | None = None
) -> list[RevisionChange]:
    """Describe each revision after ``after``; ``cache`` shares the work between the
    signatures of one document (each later revision is summarised once)."""
    cache = {} if cache is None else cache
    out = []
    for revision in range(after + 1, reader.xrefs.total_revisions):
        if revision not in cache:
            cache[revision] = summarise_revision(reader, revision)
        out.append(cache[revision])
    return out
