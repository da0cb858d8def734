"""Trust-service use cases over the catalog and the key store.

:class:`TrustServices` owns the authority's material (loaded once), issues, renews, revokes
and suspends certificates, publishes CRLs and answers OCSP and timestamp requests. Each
mutation runs in one transaction together with its audit event; a revocation publishes the
next CRL (strictly increasing CRL number) in the same transaction, so it is visible at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import zlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hoso.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from hoso.signing.keystore.api import KeyAlgorithm, KeyStore
from hoso.signing.models import SigningCertificate, SigningCrl
from hoso.signing.settings import SigningSettings
from hoso.signing.trust import repository as repo
from hoso.signing.trust.authority import (
    BACKDATE,
    Authority,
    IssuedMaterial,
    create_authority,
    to_asn1,
)
from hoso.signing.trust.importing import (
    OfflineKeyHandle,
    check_ca_import,
    load_certificate,
    load_private_key,
)
from hoso.signing.trust.names import SubjectName, name_to_subject
from hoso.signing.trust.ocsp import CertStatus, OcspResponder, Status
from hoso.signing.trust.profiles import PROFILES, Profile
from hoso.signing.trust.tsa import TimestampAuthority
from hoso.signing.trust.x509build import (
    CertificateUrls,
    RevokedEntry,
    build_certificate,
    build_crl,
    load_csr,
    random_serial,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["REASONS", "AuditFn", "TrustServices"]

#: RFC 5280 reason names accepted by revoke (asn1crypto spelling → cryptography flag).
REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "ca_compromise": x509.ReasonFlags.ca_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "certificate_hold": x509.ReasonFlags.certificate_hold,
    "privilege_withdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aa_compromise": x509.ReasonFlags.aa_compromise,
}


class AuditFn(Protocol):
    async def __call__(
        self,
        session: AsyncSession,
        *,
        action: str,
        target: str,
        digest: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Any: ...


#: PostgreSQL advisory lock key serialising CA creation and import across replicas.
CA_LOCK_KEY = zlib.crc32(b"hoso.signing.certificate-authority")

#: State of the certificates of a CA replaced by an import: out of service, kept for the record.
RETIRED = "RETIRED"

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _now() -> dt.datetime:
    # Whole seconds: CRLs and OCSP encode seconds, and equal precision keeps comparisons exact.
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class TrustServices:
    """The certificate authority and its revocation and time services.

    Args:
        sessions: opens a session in a transaction (``Runtime.session``).
        keystore: where the authority's and subjects' keys live (owned by the caller).
        settings: the ``[signing]`` section.
        public_base_url: base of the URLs written into certificates.
        audit: appends an audit event in the caller's transaction (``Runtime.audit``).
    """

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        keystore: KeyStore,
        settings: SigningSettings,
        public_base_url: str,
        audit: AuditFn,
    ) -> None:
        self.sessions = sessions
        self.keystore = keystore
        self.settings = settings
        if not public_base_url.startswith(("http://", "https://")):
            raise ValueError(f"public_base_url must be an absolute URL, not {public_base_url!r}")
        self.pki_urls = settings.pki_urls(public_base_url)
        self.urls = CertificateUrls(
            crl=self.pki_urls["crl"],
            ocsp=self.pki_urls["ocsp"],
            ca_issuers=self.pki_urls["ca_issuers"],
        )
        self.root_urls = CertificateUrls(
            crl=self.pki_urls["root_crl"], ocsp="", ca_issuers=self.pki_urls["root_cert"]
        )
        self._audit = audit
        self._authority: Authority | None = None
        self._responder: OcspResponder | None = None
        self._tsa: TimestampAuthority | None = None
        self._authority_lock = asyncio.Lock()

    # ---- the authority -------------------------------------------------------------------

    async def authority(self) -> Authority:
        """The authority's material, created on first start when the catalog has none.

        Replicas starting together on one database create one CA: creation runs under a
        database-wide lock and looks again once it holds it.
        """
        if self._authority is not None:
            return self._authority
        async with self._authority_lock:
            if self._authority is None:
                async with self.sessions() as session:
                    found = await self._load(session)
                if found is None:
                    async with self.sessions() as session:
                        await self._lock_authority(session)
                        found = await self._load(session) or await self._create(session)
                self._authority = found
        return self._authority

    async def find_authority(self) -> Authority | None:
        """The authority in the catalog, or ``None`` when none was created or imported yet."""
        if self._authority is not None:
            return self._authority
        async with self.sessions() as session:
            return await self._load(session)

    @staticmethod
    async def _lock_authority(session: AsyncSession) -> None:
        """Serialise CA creation/import with other processes until the transaction ends."""
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CA_LOCK_KEY})
        else:
            # SQLite: any write statement takes the database write lock for the transaction.
            await session.execute(text("UPDATE signing_certificates SET state = state WHERE 0 = 1"))

    async def _material(self, row: SigningCertificate) -> IssuedMaterial:
        certificate = x509.load_der_x509_certificate(row.der)
        key = (
            await self.keystore.get(row.key_id)
            if row.key_id
            else OfflineKeyHandle(certificate.public_key())  # type: ignore[arg-type]
        )
        return IssuedMaterial(Profile(row.profile), certificate, key)

    async def _load(self, session: AsyncSession) -> Authority | None:
        certificates = repo.CertificateRepository(session)
        rows = [
            await certificates.current_of_profile(profile, require_key=profile != Profile.ROOT_CA)
            for profile in (
                Profile.ROOT_CA,
                Profile.ISSUING_CA,
                Profile.TSA,
                Profile.OCSP_RESPONDER,
            )
        ]
        if any(row is None for row in rows):
            return None
        root, issuing, tsa, ocsp = [await self._material(row) for row in rows if row]
        return Authority(root=root, issuing=issuing, tsa=tsa, ocsp=ocsp, urls=self.urls)

    async def _create(
        self,
        session: AsyncSession,
        *,
        root: IssuedMaterial | None = None,
        issuing: IssuedMaterial | None = None,
    ) -> Authority:
        s = self.settings
        authority = await create_authority(
            self.keystore,
            urls=self.urls,
            root_urls=self.root_urls,
            ca_algorithm=s.ca_key_algorithm,
            service_algorithm=s.service_key_algorithm,
            organization=s.ca_organization,
            country=s.ca_country,
            root_days=s.root_validity_days,
            issuing_days=s.issuing_validity_days,
            root=root,
            issuing=issuing,
        )
        now = _now()
        certificates = repo.CertificateRepository(session)
        root_serial = repo.serial_hex(authority.root.certificate.serial_number)
        issuing_serial = repo.serial_hex(authority.issuing.certificate.serial_number)
        for material, issuer in (
            (authority.root, None),
            (authority.issuing, root_serial),
            (authority.tsa, issuing_serial),
            (authority.ocsp, issuing_serial),
        ):
            if await certificates.get(repo.serial_hex(material.certificate.serial_number)):
                continue  # an imported CA already recorded
            await certificates.add(
                material.certificate,
                profile=material.profile,
                subject_key=material.certificate.subject.rfc4514_string().casefold(),
                issuer_serial_hex=issuer,
                key_store=self.settings.key_store.value.upper()
                if material.key.key_id
                else "EXTERNAL",
                key_id=material.key.key_id or None,
                now=now,
            )
        await self._audit(
            session,
            action="trust.ca.import" if root is not None else "trust.ca.create",
            target=f"certificates/{issuing_serial}",
            details={"root": root_serial, "issuing": issuing_serial},
        )
        return authority

    async def import_authority(
        self,
        *,
        root_certificate: bytes,
        issuing_certificate: bytes,
        issuing_private_key: bytes = b"",
        passphrase: str | None = None,
        key_id: str = "",
        replace: bool = False,
    ) -> Authority:
        """Make an existing root + issuing CA ours (new TSA and OCSP certificates under it).

        The issuing key goes into the configured key store (software), or is found on the
        PKCS#11 token by ``key_id``. Importing the CA already in service again is a no-op.

        Raises:
            InvalidArgument: unparsable input, not CA certificates, issuing not signed by the
                root, a key that does not match (the field is named).
            FailedPrecondition: a CA is already in service and ``replace`` is false.
        """
        root = load_certificate(root_certificate, "root_certificate")
        issuing = load_certificate(issuing_certificate, "issuing_certificate")
        if bool(issuing_private_key) == bool(key_id):
            raise InvalidArgument(
                "give exactly one of issuing_private_key (PKCS#8) or key_id (a key already on "
                "the PKCS#11 token)",
                field="issuing_private_key",
            )
        private_key = (
            load_private_key(issuing_private_key, passphrase, "issuing_private_key")
            if issuing_private_key
            else None
        )
        checked = check_ca_import(root, issuing, private_key, now=_now())
        async with self._authority_lock, self.sessions() as session:
            await self._lock_authority(session)
            current = await self._load(session)
            if current is not None:
                if current.issuing.certificate == issuing and current.root.certificate == root:
                    self._use(current)
                    return current
                if not replace:
                    serial = repo.serial_hex(current.issuing.certificate.serial_number)
                    raise FailedPrecondition(
                        f"a CA is already in service (issuing CA certificates/{serial}); set "
                        "replace to retire it and use the imported one"
                    )
                await self._retire(session, current)
            handle = await self._import_key(checked.issuing_key, key_id, issuing)
            authority = await self._create(
                session,
                root=IssuedMaterial(
                    Profile.ROOT_CA,
                    root,
                    OfflineKeyHandle(root.public_key()),  # type: ignore[arg-type]
                ),
                issuing=IssuedMaterial(Profile.ISSUING_CA, issuing, handle),
            )
        self._use(authority)
        return authority

    async def _import_key(self, private_key: Any, key_id: str, issuing: x509.Certificate) -> Any:
        if private_key is None:
            handle = await self.keystore.get(key_id)
            if handle.public_key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ) != issuing.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ):
                raise InvalidArgument(
                    f"key {key_id} on the token does not match issuing_certificate", field="key_id"
                )
            return handle
        importer = getattr(self.keystore, "import_private_key", None)
        if importer is None:
            raise InvalidArgument(
                "the configured key store is an HSM: put the issuing key on the token with the "
                "HSM's own tools and send its key_id instead of issuing_private_key",
                field="issuing_private_key",
            )
        return await importer(private_key, "issuing-ca")

    @staticmethod
    async def _retire(session: AsyncSession, current: Authority) -> None:
        certificates = repo.CertificateRepository(session)
        for material in (current.root, current.issuing, current.tsa, current.ocsp):
            row = await certificates.get(repo.serial_hex(material.certificate.serial_number))
            if row is not None and row.state == repo.ACTIVE:
                row.state = RETIRED
        await session.flush()

    def _use(self, authority: Authority) -> None:
        """Serve ``authority`` from now on (the responders are rebuilt from it)."""
        self._authority = authority
        self._responder = None
        self._tsa = None

    # ---- issuance ------------------------------------------------------------------------

    async def issue(
        self,
        session: AsyncSession,
        *,
        profile: Profile,
        subject: SubjectName | None,
        csr: bytes | None = None,
        key_algorithm: KeyAlgorithm | None = None,
        validity_days: int | None = None,
        request_id: str | None = None,
        renewed_from: str | None = None,
    ) -> SigningCertificate:
        """Issue a certificate from a CSR, or for a key generated in the key store.

        Raises:
            InvalidArgument: bad CSR, weak key, both or neither of csr/key_algorithm, a profile
                that cannot be issued, bad validity (the field is named).
            AlreadyExists: the profile forbids a second live certificate for this subject.
        """
        if request_id:
            earlier = await repo.CertificateRepository(session).by_request_id(request_id)
            if earlier is not None:
                return earlier
        spec = PROFILES.get(profile)
        if spec is None or not spec.issuable:
            raise InvalidArgument(
                f"profile {profile} cannot be issued; use OFFICIAL, AGENCY_SEAL, TSA or "
                "OCSP_RESPONDER",
                field="profile",
            )
        if (csr is None) == (key_algorithm is None):
            raise InvalidArgument(
                "give exactly one of csr (external key) or key_algorithm (key generated here)",
                field="csr",
            )
        days = validity_days or self.settings.certificate_validity_days
        if not 1 <= days <= 3650:
            raise InvalidArgument("validity_days must be between 1 and 3650", field="validity_days")
        public_key: Any
        if csr is not None:
            request = load_csr(csr)
            public_key = request.public_key()
            if subject is None:
                fields = name_to_subject(request.subject).__dict__
                subject = SubjectName.create(**fields)
        if subject is None:
            raise InvalidArgument("subject.common_name is required", field="subject.common_name")
        now = _now()
        certificates = repo.CertificateRepository(session)
        if spec.unique_subject:
            clash = await certificates.live_with_subject(profile, subject.key(), now)
            if clash is not None and clash.serial_hex != renewed_from:
                raise AlreadyExists(
                    f"subject already has a live {profile} certificate "
                    f"certificates/{clash.serial_hex}; renew or revoke it instead",
                    field="subject",
                )
        authority = await self.authority()
        key_id: str | None = None
        key_store = "EXTERNAL"
        if key_algorithm is not None:
            handle = await self.keystore.generate(key_algorithm, subject.common_name)
            public_key, key_id = handle.public_key, handle.key_id
            key_store = self.settings.key_store.value.upper()
        certificate = await build_certificate(
            subject=subject.to_x509(),
            public_key=public_key,
            profile=profile,
            signer=authority.issuing.key,
            issuer=authority.issuing.certificate,
            serial=random_serial(),
            not_before=now - BACKDATE,
            not_after=now + dt.timedelta(days=days),
            urls=self.urls,
            email=subject.email,
        )
        row = await certificates.add(
            certificate,
            profile=profile,
            subject_key=subject.key(),
            issuer_serial_hex=repo.serial_hex(authority.issuing.certificate.serial_number),
            key_store=key_store,
            key_id=key_id,
            now=now,
            renewed_from=renewed_from,
            request_id=request_id,
        )
        await self._audit(
            session,
            action="trust.certificate.issue",
            target=f"certificates/{row.serial_hex}",
            digest=row.sha256,
            details={"profile": profile.value, "subject": row.subject, "key_store": key_store},
        )
        return row

    async def get(self, session: AsyncSession, serial: str) -> SigningCertificate:
        """A certificate by serial hex (raises ``NotFound``)."""
        row = await repo.CertificateRepository(session).get(serial.lower().lstrip("0") or "0")
        if row is None:
            raise NotFound(f"no certificate with serial {serial}", field="serial_hex")
        return row

    async def renew(
        self,
        session: AsyncSession,
        serial: str,
        *,
        csr: bytes | None = None,
        validity_days: int | None = None,
        request_id: str | None = None,
    ) -> SigningCertificate:
        """Issue a successor with the same subject and profile, then mark the old superseded.

        Without a CSR the successor gets a fresh key of the same type in the key store (when
        the old key was there too).
        """
        old = await self.get(session, serial)
        if old.state == repo.REVOKED:
            raise FailedPrecondition(f"certificates/{old.serial_hex} is revoked; issue anew")
        key_algorithm = None
        if csr is None:
            if old.key_store == "EXTERNAL":
                raise InvalidArgument(
                    "the old key is external: send a csr for the new key", field="csr"
                )
            key_algorithm = KeyAlgorithm(old.key_algorithm)
        certificate = x509.load_der_x509_certificate(old.der)
        subject = SubjectName.create(**name_to_subject(certificate.subject).__dict__)
        new = await self.issue(
            session,
            profile=Profile(old.profile),
            subject=subject,
            csr=csr,
            key_algorithm=key_algorithm,
            validity_days=validity_days,
            request_id=request_id,
            renewed_from=old.serial_hex,
        )
        if old.state != repo.REVOKED and new.renewed_from == old.serial_hex:
            await self._set_state(session, old, repo.REVOKED, "superseded")
        return new

    # ---- revocation ----------------------------------------------------------------------

    async def revoke(self, session: AsyncSession, serial: str, reason: str) -> SigningCertificate:
        """Revoke for good (RFC 5280 reason name). Suspension uses :meth:`suspend`.

        Raises:
            NotFound, InvalidArgument (bad reason), FailedPrecondition (already revoked).
        """
        if reason not in REASONS or reason == "certificate_hold":
            raise InvalidArgument(
                f"reason {reason!r} is not a revocation reason; use key_compromise, superseded, "
                "affiliation_changed, cessation_of_operation, privilege_withdrawn or unspecified "
                "(suspension is SuspendCertificate)",
                field="reason",
            )
        row = await self.get(session, serial)
        if row.state == repo.REVOKED:
            raise FailedPrecondition(f"certificates/{row.serial_hex} is already revoked")
        return await self._set_state(session, row, repo.REVOKED, reason)

    async def suspend(self, session: AsyncSession, serial: str) -> SigningCertificate:
        """Put a certificate on hold (certificateHold), where its profile allows it."""
        row = await self.get(session, serial)
        if not PROFILES[Profile(row.profile)].may_suspend:
            raise FailedPrecondition(f"{row.profile} certificates cannot be suspended; revoke")
        if row.state != repo.ACTIVE:
            raise FailedPrecondition(f"certificates/{row.serial_hex} is {row.state}, not ACTIVE")
        return await self._set_state(session, row, repo.SUSPENDED, "certificate_hold")

    async def unsuspend(self, session: AsyncSession, serial: str) -> SigningCertificate:
        """Lift a hold: the certificate is ACTIVE again and leaves the CRL."""
        row = await self.get(session, serial)
        if row.state != repo.SUSPENDED:
            raise FailedPrecondition(f"certificates/{row.serial_hex} is {row.state}, not SUSPENDED")
        return await self._set_state(session, row, repo.ACTIVE, None)

    async def _set_state(
        self, session: AsyncSession, row: SigningCertificate, state: str, reason: str | None
    ) -> SigningCertificate:
        authority = await self.authority()
        # Lock the issuer row: revocations of one issuer serialise, so CRL numbers never clash.
        if row.issuer_serial_hex:
            await repo.CertificateRepository(session).get(row.issuer_serial_hex, for_update=True)
        row.state = state
        row.revocation_reason = reason
        row.revocation_time = _now() if state != repo.ACTIVE else None
        await session.flush()
        if row.issuer_serial_hex:
            await self._publish_crl(session, authority, row.issuer_serial_hex)
        await self._audit(
            session,
            action=f"trust.certificate.{state.lower()}",
            target=f"certificates/{row.serial_hex}",
            digest=row.sha256,
            details={"reason": reason},
        )
        return row

    def _issuer_material(self, authority: Authority, issuer_serial: str) -> IssuedMaterial:
        for material in (authority.issuing, authority.root):
            if repo.serial_hex(material.certificate.serial_number) == issuer_serial:
                return material
        raise NotFound(f"issuer certificates/{issuer_serial} is not a current CA")

    async def _publish_crl(
        self, session: AsyncSession, authority: Authority, issuer_serial: str
    ) -> SigningCrl:
        issuer = self._issuer_material(authority, issuer_serial)
        crls = repo.CrlRepository(session)
        number = await crls.next_number(issuer_serial)
        now = _now()
        revoked = [
            RevokedEntry(
                serial=int(row.serial_hex, 16),
                revoked_at=row.revocation_time or now,
                reason=REASONS.get(row.revocation_reason or "unspecified"),
            )
            for row in await repo.CertificateRepository(session).revoked_by(issuer_serial)
        ]
        next_update = now + dt.timedelta(hours=self.settings.crl_validity_hours)
        crl = await build_crl(
            issuer=issuer.certificate,
            signer=issuer.key,
            number=number,
            this_update=now,
            next_update=next_update,
            revoked=revoked,
        )
        return await crls.add(
            SigningCrl(
                issuer_serial_hex=issuer_serial,
                number=number,
                this_update=now,
                next_update=next_update,
                der=crl.public_bytes(serialization.Encoding.DER),
            )
        )

    async def current_crl(self, *, root: bool = False) -> bytes:
        """The latest CRL (DER) of the issuing CA (or the root), regenerated when due."""
        authority = await self.authority()
        material = authority.root if root else authority.issuing
        issuer_serial = repo.serial_hex(material.certificate.serial_number)
        async with self.sessions() as session:
            latest = await repo.CrlRepository(session).latest(issuer_serial)
            if self._fresh(latest):
                assert latest is not None
                return latest.der
        # Publish in a transaction of its own whose FIRST statement takes the issuer's lock:
        # replicas (and processes sharing a SQLite file) then publish one after another, and
        # whoever comes second finds the first one's CRL instead of numbering a clashing one.
        # On SQLite the lock is the database write lock, taken before any read so the
        # snapshot is fresh (a read first would make the upgrade fail with "database is
        # locked"), and a consent transaction holding it is waited for (busy timeout).
        async with self.sessions() as session:
            await self._lock_issuer(session, issuer_serial)
            latest = await repo.CrlRepository(session).latest(issuer_serial)
            if self._fresh(latest):
                assert latest is not None
                return latest.der
            return (await self._publish_crl(session, authority, issuer_serial)).der

    def _fresh(self, crl: SigningCrl | None) -> bool:
        """Whether ``crl`` may still be served (not within the refresh margin of nextUpdate)."""
        margin = dt.timedelta(hours=self.settings.crl_refresh_hours)
        return crl is not None and crl.next_update - _now() > margin

    @staticmethod
    async def _lock_issuer(session: AsyncSession, issuer_serial: str) -> None:
        """Serialise CRL publication for one issuer across processes until the transaction
        ends (the same row lock revocations take, so they serialise with refreshes too)."""
        if session.get_bind().dialect.name == "postgresql":
            await repo.CertificateRepository(session).get(issuer_serial, for_update=True)
        else:
            await session.execute(text("UPDATE signing_crls SET number = number WHERE 0 = 1"))

    async def status(self, serial: int) -> CertStatus:
        """The OCSP status of a serial of the issuing CA, read fresh from the catalog."""
        async with self.sessions() as session:
            row = await repo.CertificateRepository(session).get(repo.serial_hex(serial))
        authority = await self.authority()
        issuing = repo.serial_hex(authority.issuing.certificate.serial_number)
        if row is None or row.issuer_serial_hex != issuing:
            return CertStatus(Status.UNKNOWN)
        if row.state == repo.ACTIVE:
            return CertStatus(Status.GOOD)
        return CertStatus(Status.REVOKED, row.revocation_time, row.revocation_reason)

    async def ocsp_responder(self) -> OcspResponder:
        """The delegated responder for the issuing CA (built once)."""
        if self._responder is not None:
            return self._responder
        authority = await self.authority()
        self._responder = OcspResponder(
            issuer=to_asn1(authority.issuing.certificate),
            certificate=to_asn1(authority.ocsp.certificate),
            key=authority.ocsp.key,
            digest_algorithm=authority.ocsp.key.algorithm.digest_algorithm,
            validity=dt.timedelta(minutes=self.settings.ocsp_validity_minutes),
        )
        return self._responder

    async def answer_ocsp(self, body: bytes) -> bytes:
        """Answer an encoded OCSP request (never raises on bad input)."""
        return await (await self.ocsp_responder()).respond(body, self.status)

    async def timestamp_authority(self) -> TimestampAuthority:
        """The TSA, signing with the TSA certificate's key (built once)."""
        if self._tsa is not None:
            return self._tsa
        authority = await self.authority()
        self._tsa = TimestampAuthority(
            certificate=to_asn1(authority.tsa.certificate),
            key=authority.tsa.key,
            chain=[to_asn1(authority.issuing.certificate), to_asn1(authority.root.certificate)],
            policy_oid=self.settings.tsa_policy_oid,
            accuracy_seconds=self.settings.tsa_accuracy_seconds,
            digest_algorithm=authority.tsa.key.algorithm.digest_algorithm,
        )
        return self._tsa
