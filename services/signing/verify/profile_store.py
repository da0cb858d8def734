"""Trust profiles in the catalog (``signing_trust_profiles``): CRUD, built-in slots, and the
core :class:`~hoso.signing.verify.profiles.TrustProfile` each row stands for.

Built-in profiles are seeded on start: ``hoso-root`` trusts this server's own root CA;
``vn-national-root`` (Vietnam National Root CA) and ``vn-gov-root`` (the government-specialised
root) start empty, because their certificates cannot be fetched here: operators import the DER
with ``UpdateTrustProfile``. Until then a signature checked against them is untrusted.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from hoso.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from hoso.signing.models import SigningTrustProfile
from hoso.signing.verify.profiles import ProfileKind, TrustProfile, parse_anchor
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "BUILTIN_SLOTS",
    "Anchor",
    "anchors_of",
    "core_profile",
    "ensure_builtins",
    "get_profile",
    "parse_anchors",
    "profile_id_of",
    "resolve_profile",
]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_PREFIX = "trustProfiles/"


@dataclass(frozen=True)
class Anchor:
    """A labelled trust anchor."""

    label: str
    der: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


#: id -> (kind, display name, description) of the slots every deployment has.
BUILTIN_SLOTS: dict[str, tuple[ProfileKind, str, str]] = {
    "hoso-root": (
        ProfileKind.OWN_ROOT,
        "Gốc tin cậy của hệ thống hoso",
        "The root CA of this hoso deployment (created or imported at first start).",
    ),
    "vn-national-root": (
        ProfileKind.NATIONAL_ROOT,
        "Tổ chức cung cấp dịch vụ chứng thực chữ ký số quốc gia (Root CA)",
        "Vietnam National Root CA; import its DER certificate to use this profile.",
    ),
    "vn-gov-root": (
        ProfileKind.GOVERNMENT_ROOT,
        "Chứng thực chữ ký số chuyên dùng Chính phủ",
        "The government-specialised root CA; import its DER certificate to use this profile.",
    ),
}


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def profile_id_of(name: str, field: str = "name") -> str:
    """The id in ``trustProfiles/{id}``; INVALID_ARGUMENT when malformed."""
    if not name.startswith(_PREFIX):
        raise InvalidArgument(f"{field} must be trustProfiles/{{id}}", field=field)
    return check_id(name[len(_PREFIX) :], field)


def check_id(profile_id: str, field: str = "trust_profile_id") -> str:
    """``profile_id`` when it is 3-63 of ``[a-z0-9-]``; INVALID_ARGUMENT otherwise."""
    if not _ID.match(profile_id):
        raise InvalidArgument(
            f"{field} must be 3-63 lower-case letters, digits or '-', not starting or ending "
            f"with '-' (got {profile_id!r})",
            field=field,
        )
    return profile_id


def parse_anchors(items: Sequence[tuple[str, bytes]], field: str = "anchors") -> list[Anchor]:
    """Labelled DER anchors, each parsed; INVALID_ARGUMENT naming the bad one."""
    anchors: list[Anchor] = []
    seen: set[bytes] = set()
    for index, (label, der) in enumerate(items):
        try:
            cert = parse_anchor(der)
        except ValueError as e:
            raise InvalidArgument(
                f"{field}[{index}].der is not a DER X.509 certificate; export the root CA "
                "certificate in DER (or PEM) and send its bytes",
                field=f"{field}[{index}].der",
            ) from e
        canonical = cert.dump()
        if canonical in seen:
            continue
        seen.add(canonical)
        subject = cert.subject.native.get("common_name") or cert.subject.human_friendly
        anchors.append(Anchor(label=_nfc(label or str(subject)), der=canonical))
    return anchors


def _dump_anchors(anchors: Sequence[Anchor]) -> str:
    return json.dumps(
        [{"label": a.label, "der": base64.b64encode(a.der).decode()} for a in anchors],
        ensure_ascii=False,
    )


def anchors_of(row: SigningTrustProfile) -> list[Anchor]:
    """The anchors stored in ``row``."""
    return [Anchor(a["label"], base64.b64decode(a["der"])) for a in json.loads(row.anchors)]


def core_profile(row: SigningTrustProfile) -> TrustProfile:
    """The verification core's view of ``row``."""
    kind = ProfileKind(row.kind) if row.kind in ProfileKind.__members__.values() else None
    return TrustProfile(
        name=f"{_PREFIX}{row.profile_id}",
        anchors=tuple(a.der for a in anchors_of(row)),
        kind=kind or ProfileKind.CUSTOM,
        description=row.description,
        updated_at=row.updated_at,
        require_revocation_check=row.require_revocation_check,
    )


def new_row(
    profile_id: str,
    *,
    kind: ProfileKind,
    display_name: str,
    description: str,
    anchors: Sequence[Anchor],
    require_revocation_check: bool = True,
    default_profile: bool = False,
    request_id: str | None = None,
) -> SigningTrustProfile:
    """A fresh row (not yet added to a session)."""
    now = dt.datetime.now(dt.UTC)
    return SigningTrustProfile(
        profile_id=profile_id,
        display_name=_nfc(display_name),
        description=_nfc(description),
        kind=kind.value,
        anchors=_dump_anchors(anchors),
        require_revocation_check=require_revocation_check,
        default_profile=default_profile,
        version=1,
        create_request_id=request_id or None,
        update_request_id=None,
        created_at=now,
        updated_at=now,
    )


def set_anchors(row: SigningTrustProfile, anchors: Sequence[Anchor]) -> None:
    """Replace the anchors of ``row``."""
    row.anchors = _dump_anchors(anchors)


async def get_profile(session: AsyncSession, profile_id: str) -> SigningTrustProfile:
    """The row of ``profile_id``; NOT_FOUND when unknown."""
    row = await session.get(SigningTrustProfile, profile_id)
    if row is None:
        raise NotFound(
            f"trustProfiles/{profile_id} does not exist; ListTrustProfiles shows the known ones"
        )
    return row


async def resolve_profile(
    session: AsyncSession, name: str, default_id: str, field: str = "header.trust_profile"
) -> SigningTrustProfile:
    """The profile a verification request names, or the default profile for an empty name."""
    if name:
        return await get_profile(session, profile_id_of(name, field))
    row = (
        await session.execute(
            select(SigningTrustProfile).where(SigningTrustProfile.default_profile.is_(True))
        )
    ).scalar_one_or_none()
    if row is None:
        row = await session.get(SigningTrustProfile, default_id)
    if row is None:
        raise FailedPrecondition(
            f"no default trust profile: create trustProfiles/{default_id} or name one",
            field=field,
        )
    return row


async def make_default(session: AsyncSession, row: SigningTrustProfile) -> None:
    """Make ``row`` the only default profile."""
    await session.execute(
        update(SigningTrustProfile)
        .where(SigningTrustProfile.profile_id != row.profile_id)
        .values(default_profile=False)
    )
    row.default_profile = True


async def ensure_builtins(sessions: object, own_root: Anchor, default_id: str) -> list[str]:
    """Seed the built-in profiles that are missing; returns the ids created.

    ``sessions`` is ``runtime.session``. Several processes may start at once: a row another
    one inserted first is simply kept.
    """
    created: list[str] = []
    for profile_id, (kind, display, description) in BUILTIN_SLOTS.items():
        try:
            async with sessions() as session:  # type: ignore[operator]
                if await session.get(SigningTrustProfile, profile_id) is not None:
                    continue
                session.add(
                    new_row(
                        profile_id,
                        kind=kind,
                        display_name=display,
                        description=description,
                        anchors=[own_root] if kind is ProfileKind.OWN_ROOT else [],
                    )
                )
            created.append(profile_id)
        except IntegrityError:
            continue
    async with sessions() as session:  # type: ignore[operator]
        has_default = (
            await session.execute(
                select(SigningTrustProfile.profile_id).where(
                    SigningTrustProfile.default_profile.is_(True)
                )
            )
        ).first()
        if has_default is None:
            row = await session.get(SigningTrustProfile, default_id) or await session.get(
                SigningTrustProfile, "hoso-root"
            )
            if row is not None:
                row.default_profile = True
    return created


def raise_exists(profile_id: str) -> None:
    """ALREADY_EXISTS for ``profile_id``."""
    raise AlreadyExists(
        f"trustProfiles/{profile_id} already exists; choose another id or update it"
    )


def now() -> dt.datetime:
    """The current time (UTC)."""
    return dt.datetime.now(dt.UTC)
