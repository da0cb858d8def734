"""Export a dossier as a BagIt (RFC 8493) package, streamed as tar without building it.

Tar headers are written by hand (``TarInfo.tobuf``) so payload bytes flow from the object store
to the caller chunk by chunk; each payload file is hashed as it streams and a digest that
differs from the catalog stops the export with DATA_LOSS. Manifests come after the payload in
the tar (BagIt does not care about order), which is what lets the bag stream in one pass.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hoso.storage.errors import DataLoss
from hoso.storage.objectstore.api import ObjectStore
from hoso.storage.repository import Row
from hoso.storage.verification import VerificationFiles

__all__ = ["BagPlan", "Verifier", "plan_bag", "stream_bag"]

# verifier(payload path, byte stream) -> the report's JSON and text; raises when unreachable.
Verifier = Callable[[str, AsyncIterator[bytes]], Awaitable["VerificationFiles"]]
_BLOCK = 512


@dataclass(frozen=True)
class BagPlan:
    """What goes into the bag."""

    bag_name: str
    entries: list[tuple[str, Row]]
    """(path under data/, version row)."""
    payload_bytes: int
    metadata: dict[str, Any]


def plan_bag(dossier_meta: dict[str, Any], rows: list[Row], *, all_versions: bool) -> BagPlan:
    """Choose payload paths: ``data/<component>/<ordinal>[/v<n>]/<filename>``."""
    entries = []
    for row in rows:
        folder = f"{row.file.component_type}/{row.file.ordinal:03d}"
        if all_versions:
            folder += f"/v{row.version.number}"
        entries.append((f"data/{folder}/{row.version.filename}", row))
    meta = dict(dossier_meta)
    meta["files"] = [
        {
            "path": path,
            "version": row.version.number,
            "file_id": row.file.id,
            "sha256": row.version.sha256,
            "size": row.version.size,
            "media_type": row.version.media_type,
            "component_type": row.file.component_type,
            "archived_at": row.version.created_at.isoformat(),
            "retention_class": row.version.retention_class,
            "derived_from_version_id": row.version.source_version_id,
            "signed": row.version.signed,
        }
        for path, row in entries
    ]
    return BagPlan(
        bag_name=f"{dossier_meta['dossier_code']}-bag",
        entries=entries,
        payload_bytes=sum(r.version.size for _, r in entries),
        metadata=meta,
    )


def _header(path: str, size: int) -> bytes:
    info = tarfile.TarInfo(path)
    info.size = size
    info.mode = 0o644
    info.mtime = int(datetime.now(UTC).timestamp())
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8")


def _padding(size: int) -> bytes:
    return b"\0" * (-size % _BLOCK)


def _member(path: str, data: bytes) -> bytes:
    return _header(path, len(data)) + data + _padding(len(data))


async def stream_bag(
    plan: BagPlan,
    store: ObjectStore,
    *,
    verifier: Verifier | None = None,
    source_organization: str = "",
) -> AsyncIterator[bytes]:
    """Yield the tar bytes of the bag."""
    root = plan.bag_name
    manifest: list[str] = []
    for path, row in plan.entries:
        yield _header(f"{root}/{path}", row.version.size)
        digest = hashlib.sha256()
        size = 0
        async for chunk in store.get(
            row.version.object_key, version_id=row.version.object_version, tenant=row.version.tenant
        ):
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        if digest.hexdigest() != row.version.sha256 or size != row.version.size:
            raise DataLoss(
                f"{path} no longer matches its archived SHA-256; run VerifyFixity and restore it"
            )
        yield _padding(size)
        manifest.append(f"{row.version.sha256}  {path}\n")
    tags: dict[str, bytes] = {}
    reports = 0
    note = ""
    if verifier is not None:
        for path, row in plan.entries:
            if not (row.version.signed and row.version.media_type == "application/pdf"):
                continue
            try:
                report = await verifier(
                    path,
                    store.get(
                        row.version.object_key,
                        version_id=row.version.object_version,
                        tenant=row.version.tenant,
                    ),
                )
            except Exception as exc:  # the signing service is optional for an export
                note = f"signature verification unavailable: {exc}"
                break
            stem = f"metadata/verification/{path.removeprefix('data/')}"
            tags[f"{stem}.json"] = report.json_report.encode()
            tags[f"{stem}.txt"] = report.human_report.encode()
            reports += 1
    tags["metadata/dossier.json"] = json.dumps(
        plan.metadata, ensure_ascii=False, indent=2, sort_keys=True
    ).encode()
    tags["bagit.txt"] = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    info = [
        f"Bagging-Date: {datetime.now(UTC).date().isoformat()}",
        f"External-Identifier: {plan.metadata['dossier_code']}",
        f"Payload-Oxum: {plan.payload_bytes}.{len(plan.entries)}",
        "Bag-Software-Agent: hoso",
    ]
    if source_organization:
        info.append(f"Source-Organization: {source_organization}")
    if note:
        info.append(f"Internal-Sender-Description: {note}")
    elif reports:
        info.append(
            f"Internal-Sender-Description: {reports} signature verification reports"
            " in metadata/verification (JSON and text)"
        )
    tags["bag-info.txt"] = ("\n".join(info) + "\n").encode()
    tags["manifest-sha256.txt"] = "".join(manifest).encode()
    tag_manifest = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(tags.items())
    )
    tags["tagmanifest-sha256.txt"] = tag_manifest.encode()
    buffer = io.BytesIO()
    for name, data in tags.items():
        buffer.write(_member(f"{root}/{name}", data))
    buffer.write(b"\0" * (2 * _BLOCK))
    yield buffer.getvalue()
