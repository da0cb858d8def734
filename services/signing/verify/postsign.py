"""Judge what happened after a signature beyond pyHanko's rules: re-written pre-filled fields,
later appearances drawn over signed content, and any other visible change.
"""

from __future__ import annotations

from hoso.signing.verify.changes import Snapshot, take_snapshot
from hoso.signing.verify.findings import Code, Finding
from hoso.signing.verify.visual import Overlay, PageRenderer, compare_pages
from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = ["analyse_after_signing"]


def analyse_after_signing(
    reader: PdfFileReader,
    signed_revision: int,
    signed_end: int,
    final: Snapshot,
    renderer: PageRenderer | None,
    *,
    pyhanko_flagged: bool,
) -> list[Finding]:
    """Findings about revisions after ``signed_revision``.

    Args:
        reader: the document.
        signed_revision: the revision the signature covers.
        signed_end: offset where the signed revision ends.
        final: snapshot of the last revision.
        renderer: page renderer, or ``None`` to skip the visual comparison.
        pyhanko_flagged: pyHanko already rated the changes as disallowed (no need to render).
    """
    if signed_revision >= reader.xrefs.total_revisions - 1:
        return []
    before = take_snapshot(reader, signed_revision)
    findings: list[Finding] = []
    overlays: list[Overlay] = []
    always_allowed: set[int] = set()
    newly_signed: set[int] = set()  # widgets of signature fields empty at signing time
    signature_widgets: set[int] = set()  # widgets of every signature field at the end

    for name, old in before.fields.items():
        new = final.fields.get(name)
        if new is None or new.fingerprint == old.fingerprint:
            continue
        if old.field_type == "/Sig":
            if old.has_content:
                findings.append(Finding(Code.PREFILLED_FIELD_CHANGED, f"signature field {name}"))
            else:
                findings.append(Finding(Code.LATER_SIGNATURE, name))
                newly_signed.update(new.widget_ids)
            continue
        if old.has_content:
            findings.append(Finding(Code.PREFILLED_FIELD_CHANGED, name))
        else:
            findings.append(Finding(Code.EMPTY_FIELD_FILLED, name))
            always_allowed.update(new.widget_ids)
    for name, new in final.fields.items():
        if name not in before.fields and new.field_type == "/Sig" and new.has_content:
            findings.append(Finding(Code.LATER_SIGNATURE, name))

    for state in final.fields.values():
        if state.field_type == "/Sig":
            signature_widgets.update(state.widget_ids)
    # appearances of signatures already present when this one was signed (its own included)
    signature_areas = [
        (before.annotations[wid].page, before.annotations[wid].rect)
        for state in before.fields.values()
        if state.field_type == "/Sig" and state.has_content
        for wid in state.widget_ids
        if wid in before.annotations
    ]
    candidates = False
    for object_id, annot in final.annotations.items():
        old_annot = before.annotations.get(object_id)
        if old_annot is not None and old_annot.fingerprint == annot.fingerprint:
            continue
        candidates = True
        overlays.append(
            Overlay(
                page=annot.page,
                rect=annot.rect,
                label=f"{annot.subtype.lstrip('/')} object {object_id}",
                mode="own"
                if object_id in always_allowed
                else ("new" if old_annot is None or object_id in newly_signed else "changed"),
                signature=object_id in signature_widgets,
            )
        )
    removed = any(oid not in final.annotations for oid in before.annotations)
    if renderer is None or pyhanko_flagged or not (candidates or removed):
        return findings

    signed_pages = renderer.render(signed_end)
    final_pages = renderer.render(-1)
    result = compare_pages(
        signed_pages, final_pages, final.page_boxes, overlays, renderer.scale, signature_areas
    )
    for label in result.overlays_on_signatures:
        findings.append(Finding(Code.SIGNATURE_OVER_SIGNATURE, label))
    for label in result.overlays_on_content:
        findings.append(Finding(Code.OVERLAY_ON_SIGNED_CONTENT, label))
    if result.changed_pages and not result.overlays_on_content:
        pages = ", ".join(str(p + 1) for p in result.changed_pages)
        findings.append(Finding(Code.VISUAL_CHANGE, f"page {pages}"))
    return findings
