"""Archiving a signed PDF in a dossier through the storage gRPC API.

In one process the call goes through the runtime's loopback channel (caller ``internal``);
a separate signing deployment reaches storage the same way, over the network. The storage
request id is derived from the signing request id, so a retried signing request never stores
a second copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from hoso.common.errors import HosoError, InvalidArgument, NotFound, Unavailable
from hoso.signing.v1 import signing_pb2 as _pb
from hoso.storage.v1 import storage_pb2 as _storage_pb

__all__ = ["Archiver", "check_archive_target"]

_ARCHIVE_NAMESPACE = uuid.UUID("6f1d7c52-4a0b-4f4b-9a61-0c0f5d1c9e21")


def _enum_value(enum: Any, prefix: str, name: str, field: str) -> int:
    if not name:
        return 0
    try:
        return int(enum.Value(f"{prefix}{name.upper()}"))
    except ValueError:
        names = [n.removeprefix(prefix) for n in enum.keys() if not n.endswith("UNSPECIFIED")]  # noqa: SIM118
        raise InvalidArgument(
            f"unknown value {name!r}; use one of {', '.join(names)}", field=field
        ) from None


def check_archive_target(target: _pb.ArchiveTarget, path: str) -> None:
    """Refuse a malformed target before anything is signed."""
    if not target.dossier.startswith("dossiers/") or target.dossier.count("/") != 1:
        raise InvalidArgument("dossier must be dossiers/{dossier}", field=f"{path}.dossier")
    _enum_value(
        _storage_pb.ComponentType,
        "COMPONENT_TYPE_",
        target.component_type,
        f"{path}.component_type",
    )
    _enum_value(
        _storage_pb.RetentionClass,
        "RETENTION_CLASS_",
        target.retention_class,
        f"{path}.retention_class",
    )
    if any(ch in target.filename for ch in "/\\") or any(ord(ch) < 32 for ch in target.filename):
        raise InvalidArgument(
            "filename must not contain path separators or control characters",
            field=f"{path}.filename",
        )


class Archiver:
    """Puts files into dossiers with the storage service.

    Args:
        channel: returns the gRPC channel to the storage service (resolved lazily: the
            loopback channel exists only once the server started).
    """

    def __init__(self, channel: Callable[[], grpc.aio.Channel]) -> None:
        self._channel = channel

    async def put(
        self,
        target: _pb.ArchiveTarget,
        path: Path,
        *,
        filename: str,
        sha256_hex: str,
        request_id: str,
        field: str = "header.archive",
    ) -> str:
        """Store ``path`` in the target dossier and return the file version's name.

        Raises:
            NotFound: the dossier does not exist.
            InvalidArgument: the storage service refused the file's metadata.
            Unavailable: storage cannot be reached (retry with the same request id).
        """
        from hoso.client.storage import ArchiveClient

        header = _storage_pb.PutFileHeader(
            dossier=target.dossier,
            filename=target.filename or filename or "signed.pdf",
            component_type=_enum_value(
                _storage_pb.ComponentType,
                "COMPONENT_TYPE_",
                target.component_type or "RESULT",
                f"{field}.component_type",
            ),
            ordinal=target.ordinal,
            declared_media_type="application/pdf",
            expected_sha256=sha256_hex,
            retention_class=_enum_value(  # type: ignore[arg-type]
                _storage_pb.RetentionClass,
                "RETENTION_CLASS_",
                target.retention_class,
                f"{field}.retention_class",
            ),
            request_id=str(uuid.uuid5(_ARCHIVE_NAMESPACE, request_id))
            if request_id
            else str(uuid.uuid4()),
        )
        try:
            version = await ArchiveClient(self._channel()).put_file(header, path)
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc, field) from exc
        return str(version.name)


def _translate(exc: grpc.aio.AioRpcError, field: str) -> HosoError:
    detail = exc.details() or exc.code().name
    if exc.code() == grpc.StatusCode.NOT_FOUND:
        return NotFound(f"archiving failed: {detail}", field=f"{field}.dossier")
    if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
        return InvalidArgument(f"the archive refused the signed file: {detail}", field=field)
    return Unavailable(
        f"the signed file could not be archived ({exc.code().name}: {detail}); retry with "
        "the same request_id"
    )
