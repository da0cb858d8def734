"""gRPC layer of verification: ``hoso.signing.v1.VerificationService`` (#5).

``VerifyPdf`` and ``VerifyDetached`` receive the file (spooled to disk past a few MiB), resolve
the trust profile from the catalog, and run the CPU-heavy core in a worker process
(``runtime.run_cpu``); the core's refusals are ``hoso.common.errors`` classes and pass through
to the interceptor unchanged. Trust profiles are catalog rows; every change is audited.
"""

from __future__ import annotations

import hashlib
import unicodedata
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from hoso.common.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    Unavailable,
)
from hoso.common.paging import decode_token, encode_token, page_size
from hoso.common.protoconv import to_timestamp
from hoso.common.runtime import Runtime
from hoso.common.server import Registration
from hoso.signing.models import SigningTrustProfile
from hoso.signing.settings import SigningSettings
from hoso.signing.v1 import verification_pb2 as _pb
from hoso.signing.v1 import verification_pb2_grpc as _pb_grpc
from hoso.signing.verify import profile_store as store
from hoso.signing.verify.convert import report_message
from hoso.signing.verify.detached import parse_detached_cms
from hoso.signing.verify.engine import VerifyLimits, VerifyOptions
from hoso.signing.verify.findings import Lang
from hoso.signing.verify.jobs import ReportBundle, verify_detached_job, verify_pdf_job
from hoso.signing.verify.profiles import ProfileKind, parse_anchor
from hoso.signing.verify.spool import receive
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["VerificationServicer", "build_verification"]

_MUTABLE = ("display_name", "description", "anchors", "require_revocation_check", "default_profile")
_LANGUAGES: dict[int, Lang] = {
    _pb.REPORT_LANGUAGE_UNSPECIFIED: "vi",
    _pb.REPORT_LANGUAGE_VI: "vi",
    _pb.REPORT_LANGUAGE_EN: "en",
}


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _language(value: int, field: str) -> Lang:
    lang = _LANGUAGES.get(value)
    if lang is None:
        raise InvalidArgument(f"{field} must be REPORT_LANGUAGE_VI or _EN", field=field)
    return lang


def profile_message(row: SigningTrustProfile) -> _pb.TrustProfile:
    """The API view of a catalog row."""
    anchors = []
    for anchor in store.anchors_of(row):
        anchors.append(
            _pb.TrustAnchor(
                label=anchor.label,
                der=anchor.der,
                subject=_nfc(parse_anchor(anchor.der).subject.human_friendly),
                sha256_fingerprint=anchor.sha256,
            )
        )
    return _pb.TrustProfile(
        name=f"trustProfiles/{row.profile_id}",
        display_name=row.display_name,
        description=row.description,
        anchors=anchors,
        require_revocation_check=row.require_revocation_check,
        default_profile=row.default_profile,
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
        etag=str(row.version),
    )


def _anchor_digest(anchors: list[store.Anchor]) -> str:
    hasher = hashlib.sha256()
    for anchor in sorted(anchors, key=lambda a: a.der):
        hasher.update(hashlib.sha256(anchor.der).digest())
    return hasher.hexdigest()


class VerificationServicer(_pb_grpc.VerificationServiceServicer):
    """``VerificationService`` over the verification core and the profile catalog."""

    def __init__(self, runtime: Runtime, settings: SigningSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.spool_dir = Path(settings.spool_dir or runtime.data_dir / "signing") / "verify"
        self.limits = VerifyLimits(
            max_bytes=settings.verify_max_bytes,
            max_objects=settings.verify_max_objects,
            max_revisions=settings.verify_max_revisions,
            max_signatures=settings.verify_max_signatures,
        )

    # -- verification -------------------------------------------------------------------

    async def _profile(self, name: str, field: str) -> SigningTrustProfile:
        async with self.runtime.session() as session:
            row = await store.resolve_profile(
                session, name, self.settings.verify_default_trust_profile, field
            )
            session.expunge(row)
            return row

    async def _run(self, fn: Any, *args: Any) -> ReportBundle:
        try:
            return await self.runtime.run_cpu(fn, *args)
        except BrokenProcessPool as e:
            raise Unavailable(
                "the verification worker stopped unexpectedly; retry, and report the file "
                "to an operator if it happens again"
            ) from e

    def _report(self, bundle: ReportBundle, row: SigningTrustProfile, lang: Lang) -> Any:
        return report_message(
            bundle.result,
            lang=lang,
            profile_name=f"trustProfiles/{row.profile_id}",
            json_report=bundle.json_report,
            human_report=bundle.human_report,
            anchor_labels={a.sha256: a.label for a in store.anchors_of(row)},
        )

    async def VerifyPdf(self, request_iterator: Any, context: Any) -> Any:
        found: dict[str, Any] = {}

        async def on_header(header: Any) -> None:
            found["lang"] = _language(header.language, "header.language")
            found["row"] = await self._profile(header.trust_profile, "header.trust_profile")

        header, received = await receive(
            request_iterator,
            max_bytes=self.limits.max_bytes,
            spool_dir=self.spool_dir,
            on_header=on_header,
        )
        with received:
            options = VerifyOptions(
                allow_fetching=header.allow_online_fetch or self.settings.verify_allow_online_fetch,
                limits=self.limits,
            )
            profile = store.core_profile(found["row"])
            bundle = await self._run(
                verify_pdf_job,
                received.source,
                profile,
                options,
                _nfc(header.filename),
                found["lang"],
            )
        return _pb.VerifyPdfResponse(report=self._report(bundle, found["row"], found["lang"]))

    async def VerifyDetached(self, request_iterator: Any, context: Any) -> Any:
        found: dict[str, Any] = {}

        async def on_header(header: Any) -> None:
            parse_detached_cms(header.cms)  # INVALID_ARGUMENT before the file is uploaded
            found["lang"] = _language(header.language, "header.language")
            found["row"] = await self._profile(header.trust_profile, "header.trust_profile")

        header, received = await receive(
            request_iterator,
            max_bytes=self.limits.max_bytes,
            spool_dir=self.spool_dir,
            on_header=on_header,
        )
        with received:
            bundle = await self._run(
                verify_detached_job,
                received.source,
                bytes(header.cms),
                store.core_profile(found["row"]),
                header.allow_online_fetch or self.settings.verify_allow_online_fetch,
                _nfc(header.filename),
                found["lang"],
            )
        return _pb.VerifyDetachedResponse(report=self._report(bundle, found["row"], found["lang"]))

    # -- trust profiles -----------------------------------------------------------------

    async def _audit(
        self, session: AsyncSession, action: str, row: SigningTrustProfile, **details: Any
    ) -> None:
        await self.runtime.audit(
            session,
            action=f"verification.trust_profile.{action}",
            target=f"trustProfiles/{row.profile_id}",
            digest=_anchor_digest(store.anchors_of(row)),
            details={"version": row.version, **details},
        )

    async def CreateTrustProfile(self, request: Any, context: Any) -> Any:
        profile_id = store.check_id(request.trust_profile_id)
        given = request.trust_profile
        anchors = store.parse_anchors(
            [(a.label, a.der) for a in given.anchors], field="trust_profile.anchors"
        )
        if not anchors:
            raise InvalidArgument(
                "trust_profile.anchors is empty: give at least one DER root certificate",
                field="trust_profile.anchors",
            )
        try:
            async with self.runtime.session() as session:
                existing = await session.get(SigningTrustProfile, profile_id)
                if existing is not None:
                    if request.request_id and existing.create_request_id == request.request_id:
                        return _pb.CreateTrustProfileResponse(
                            trust_profile=profile_message(existing)
                        )
                    store.raise_exists(profile_id)
                row = store.new_row(
                    profile_id,
                    kind=ProfileKind.CUSTOM,
                    display_name=given.display_name or profile_id,
                    description=given.description,
                    anchors=anchors,
                    require_revocation_check=given.require_revocation_check
                    if given.HasField("require_revocation_check")
                    else True,
                    request_id=request.request_id,
                )
                session.add(row)
                await session.flush()
                if given.default_profile:
                    await store.make_default(session, row)
                await self._audit(session, "create", row, anchors=[a.sha256 for a in anchors])
                message = profile_message(row)
        except IntegrityError as e:  # a concurrent create of the same id won
            raise AlreadyExists(f"trustProfiles/{profile_id} already exists") from e
        return _pb.CreateTrustProfileResponse(trust_profile=message)

    async def GetTrustProfile(self, request: Any, context: Any) -> Any:
        profile_id = store.profile_id_of(request.name)
        async with self.runtime.session() as session:
            row = await store.get_profile(session, profile_id)
            return _pb.GetTrustProfileResponse(trust_profile=profile_message(row))

    async def ListTrustProfiles(self, request: Any, context: Any) -> Any:
        size = page_size(request.page_size, maximum=500)
        position = decode_token(request.page_token) or {}
        after = position.get("after", "")
        if not isinstance(after, str):
            raise InvalidArgument("page_token is not one this server issued", field="page_token")
        async with self.runtime.session() as session:
            rows = (
                (
                    await session.execute(
                        select(SigningTrustProfile)
                        .where(SigningTrustProfile.profile_id > after)
                        .order_by(SigningTrustProfile.profile_id)
                        .limit(size + 1)
                    )
                )
                .scalars()
                .all()
            )
            messages = [profile_message(r) for r in rows[:size]]
        token = encode_token({"after": rows[size - 1].profile_id}) if len(rows) > size else ""
        return _pb.ListTrustProfilesResponse(trust_profiles=messages, next_page_token=token)

    async def UpdateTrustProfile(self, request: Any, context: Any) -> Any:
        given = request.trust_profile
        profile_id = store.profile_id_of(given.name, "trust_profile.name")
        paths = list(request.update_mask.paths) or list(_MUTABLE)
        unknown = [p for p in paths if p not in _MUTABLE]
        if unknown:
            raise InvalidArgument(
                f"update_mask names {', '.join(unknown)}; updatable: {', '.join(_MUTABLE)}",
                field="update_mask.paths",
            )
        anchors = None
        if "anchors" in paths:
            anchors = store.parse_anchors(
                [(a.label, a.der) for a in given.anchors], field="trust_profile.anchors"
            )
            if not anchors:
                raise InvalidArgument(
                    "trust_profile.anchors is empty: give at least one DER root certificate",
                    field="trust_profile.anchors",
                )
        async with self.runtime.session() as session:
            row = await store.get_profile(session, profile_id)
            if request.request_id and row.update_request_id == request.request_id:
                return _pb.UpdateTrustProfileResponse(trust_profile=profile_message(row))
            if given.etag and given.etag != str(row.version):
                raise Aborted(
                    f"trustProfiles/{profile_id} changed since you read it (etag {row.version}); "
                    "read it again and retry",
                    field="trust_profile.etag",
                )
            if "default_profile" in paths and not given.default_profile and row.default_profile:
                raise FailedPrecondition(
                    "this is the default profile; make another profile the default instead",
                    field="trust_profile.default_profile",
                )
            if "display_name" in paths:
                row.display_name = _nfc(given.display_name or profile_id)
            if "description" in paths:
                row.description = _nfc(given.description)
            if anchors is not None:
                store.set_anchors(row, anchors)
            if "require_revocation_check" in paths:
                row.require_revocation_check = given.require_revocation_check
            if "default_profile" in paths and given.default_profile:
                await store.make_default(session, row)
            row.version += 1
            row.update_request_id = request.request_id or None
            row.updated_at = store.now()
            await self._audit(session, "update", row, fields=paths)
            message = profile_message(row)
        return _pb.UpdateTrustProfileResponse(trust_profile=message)

    async def DeleteTrustProfile(self, request: Any, context: Any) -> Any:
        profile_id = store.profile_id_of(request.name)
        async with self.runtime.session() as session:
            row = await store.get_profile(session, profile_id)
            if request.etag and request.etag != str(row.version):
                raise Aborted(
                    f"trustProfiles/{profile_id} changed since you read it (etag {row.version}); "
                    "read it again and retry",
                    field="etag",
                )
            if profile_id in store.BUILTIN_SLOTS or row.default_profile:
                raise FailedPrecondition(
                    f"trustProfiles/{profile_id} is built in or the default and cannot be "
                    "deleted; update its anchors instead",
                    field="name",
                )
            await self._audit(session, "delete", row)
            await session.delete(row)
        return _pb.DeleteTrustProfileResponse()


async def build_verification(runtime: Runtime, trust: Any) -> Registration:
    """Seed the built-in trust profiles (our own root first) and return the registration.

    ``trust`` is the :class:`hoso.signing.service.TrustComponents` of this process.
    """
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    settings: SigningSettings = trust.settings
    authority = await trust.services.authority()
    root = authority.root.certificate
    names = root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    label = str(names[0].value) if names else root.subject.rfc4514_string()
    own_root = store.Anchor(label=_nfc(label), der=root.public_bytes(Encoding.DER))
    await store.ensure_builtins(runtime.session, own_root, settings.verify_default_trust_profile)
    return Registration(
        service_name="hoso.signing.v1.VerificationService",
        add_to_server=_pb_grpc.add_VerificationServiceServicer_to_server,
        servicer=VerificationServicer(runtime, settings),
    )
