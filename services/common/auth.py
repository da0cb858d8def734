"""Who is calling, and may they call this RPC.

A caller proves its identity with a bearer token (``authorization: Bearer …``; only its
SHA-256 is configured) or an mTLS client certificate (its common name). Each RPC's permission
is its full method name, ``hoso.storage.v1.ArchiveService/PutFile``; roles grant glob patterns
of permissions.
"""

from __future__ import annotations

import contextvars
import fnmatch
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hoso.common.errors import PermissionDenied, Unauthenticated
from hoso.common.settings import AuthSettings

__all__ = [
    "ANONYMOUS",
    "BUILTIN_ROLES",
    "OPEN_METHODS",
    "Authenticator",
    "Caller",
    "current_caller",
    "ensure_operator_token",
    "permission_of",
    "token_digest",
]

_SIGNING = "hoso.signing.v1"
_STORAGE = "hoso.storage.v1.ArchiveService"
_OCR = "hoso.ocr.v1.OcrService"
_AUDIT = "hoso.common.v1.AuditService"

#: Roles every deployment knows; ``auth.roles`` may add more.
BUILTIN_ROLES: Mapping[str, tuple[str, ...]] = {
    # Runs the house: everything.
    "operator": ("*",),
    # Document management systems: sign with credentials, and read what they need to.
    "dms": (
        f"{_SIGNING}.SigningService/*",
        f"{_SIGNING}.VerificationService/Verify*",
        f"{_SIGNING}.TrustService/Get*",
        f"{_SIGNING}.TrustService/List*",
        f"{_SIGNING}.TrustService/AuthorizeCredential",
        f"{_SIGNING}.TrustService/ExportCertificate",
        f"{_STORAGE}/Get*",
        f"{_STORAGE}/StatFile",
        f"{_STORAGE}/List*",
        f"{_STORAGE}/PutFile",
    ),
    # One-stop-shop backends: archive dossiers and find them by text.
    "backend": (
        f"{_STORAGE}/*Dossier*",
        f"{_STORAGE}/PutFile",
        f"{_STORAGE}/GetFile",
        f"{_STORAGE}/StatFile",
        f"{_STORAGE}/List*",
        f"{_STORAGE}/GetDownloadUrl",
        f"{_STORAGE}/GetStorageInfo",
        f"{_OCR}/*",
        f"{_SIGNING}.VerificationService/Verify*",
    ),
    # Auditors and receiving agencies: verify and read, never change.
    "auditor": (
        f"{_SIGNING}.VerificationService/Verify*",
        f"{_SIGNING}.VerificationService/Get*",
        f"{_SIGNING}.VerificationService/List*",
        f"{_SIGNING}.TrustService/Get*",
        f"{_SIGNING}.TrustService/List*",
        f"{_SIGNING}.TrustService/ExportCertificate",
        f"{_STORAGE}/Get*",
        f"{_STORAGE}/StatFile",
        f"{_STORAGE}/List*",
        f"{_STORAGE}/VerifyFixity",
        f"{_STORAGE}/ExportDossier",
        f"{_OCR}/GetText",
        f"{_OCR}/Search",
        f"{_AUDIT}/*",
    ),
    # OCR workers: read originals, store renditions, follow the archive's events.
    "ocr-worker": (
        f"{_STORAGE}/GetFile",
        f"{_STORAGE}/StatFile",
        f"{_STORAGE}/PutFile",
        f"{_STORAGE}/ListEvents",
        f"{_STORAGE}/WatchEvents",
        f"{_STORAGE}/GetDossier",
        f"{_STORAGE}/ListFiles",
        f"{_STORAGE}/ListRenditions",
    ),
}

#: Methods anyone may call: health checks and reflection.
OPEN_METHODS = (
    "grpc.health.v1.Health/*",
    "grpc.reflection.v1alpha.ServerReflection/*",
    "grpc.reflection.v1.ServerReflection/*",
)


@dataclass(frozen=True)
class Caller:
    """An authenticated caller."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)


ANONYMOUS = Caller("anonymous")
_current: contextvars.ContextVar[Caller] = contextvars.ContextVar("hoso_caller", default=ANONYMOUS)


def current_caller() -> Caller:
    """The caller of the RPC being served (``anonymous`` outside a call)."""
    return _current.get()


def set_current_caller(caller: Caller) -> contextvars.Token[Caller]:
    return _current.set(caller)


def token_digest(token: str) -> str:
    """Hex SHA-256 of a bearer token, as configured in ``auth.callers.<name>.token_sha256``."""
    return hashlib.sha256(token.encode()).hexdigest()


def permission_of(method: str) -> str:
    """``/pkg.Service/Method`` → ``pkg.Service/Method``."""
    return method.lstrip("/")


def _is_open(permission: str) -> bool:
    return any(fnmatch.fnmatchcase(permission, pattern) for pattern in OPEN_METHODS)


def ensure_operator_token(path: Path) -> str:
    """Read the embedded operator token at ``path``, creating it (mode 0600) if missing."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token


class Authenticator:
    """Identifies callers and checks permissions, from the ``[auth]`` settings."""

    def __init__(self, settings: AuthSettings, *, extra_tokens: Mapping[str, Caller] | None = None):
        self._by_token: dict[str, Caller] = {}
        self._by_cn: dict[str, Caller] = {}
        for name, caller in settings.callers.items():
            identity = Caller(name, frozenset(caller.roles))
            if caller.token_sha256:
                self._by_token[caller.token_sha256.lower()] = identity
            if caller.client_cert_cn:
                self._by_cn[caller.client_cert_cn] = identity
        for token, identity in (extra_tokens or {}).items():
            self._by_token[token_digest(token)] = identity
        self._roles: dict[str, tuple[str, ...]] = dict(BUILTIN_ROLES)
        for role, patterns in settings.roles.items():
            self._roles[role] = tuple(patterns)
        unknown = {r for c in settings.callers.values() for r in c.roles} - set(self._roles)
        if unknown:
            raise ValueError(f"auth.callers grant unknown roles: {', '.join(sorted(unknown))}")

    def identify(
        self, metadata: Iterable[tuple[str, str | bytes]], peer_cns: Sequence[str]
    ) -> Caller:
        """The caller behind a call's metadata and TLS peer, or raise ``Unauthenticated``."""
        for key, value in metadata:
            if key == "authorization":
                text = value.decode() if isinstance(value, bytes) else value
                scheme, _, token = text.partition(" ")
                if scheme.lower() != "bearer" or not token:
                    raise Unauthenticated("authorization must be 'Bearer <token>'")
                digest = token_digest(token.strip())
                for known, caller in self._by_token.items():
                    if hmac.compare_digest(known, digest):
                        return caller
                raise Unauthenticated("unknown bearer token: ask the operator for a valid token")
        for cn in peer_cns:
            if cn in self._by_cn:
                return self._by_cn[cn]
        if peer_cns:
            raise Unauthenticated(f"client certificate {peer_cns[0]!r} is not a known caller")
        raise Unauthenticated(
            "no credentials: send 'authorization: Bearer <token>' or a client certificate"
        )

    def allows(self, caller: Caller, permission: str) -> bool:
        return any(
            fnmatch.fnmatchcase(permission, pattern)
            for role in caller.roles
            for pattern in self._roles.get(role, ())
        )

    def authorize(
        self, metadata: Iterable[tuple[str, str | bytes]], peer_cns: Sequence[str], method: str
    ) -> Caller:
        """Identify the caller and check the permission for ``method``."""
        permission = permission_of(method)
        if _is_open(permission):
            return ANONYMOUS
        caller = self.identify(metadata, peer_cns)
        if not self.allows(caller, permission):
            raise PermissionDenied(f"caller {caller.name!r} may not call {permission}")
        return caller
