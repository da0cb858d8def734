"""Signer credentials and consent, in the spirit of CSC API v2 / SCAL2.

A credential binds a certificate (and its key in our key store) to an owner. Using it needs the
owner's PIN (argon2id hash, lock-out after ``pin_max_attempts`` wrong PINs in a row), either
directly or through a short-lived, single-use consent token (SAD) that
:meth:`ConsentService.authorize` binds to the SHA-256 digests of the documents to be signed.

The signing service calls :meth:`ConsentService.consume_consent` before signing. Call it first
in your transaction: a wrong PIN is counted in a transaction of its own (so the count survives
the caller's rollback), and on SQLite that needs the write lock to be free.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from hoso.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from hoso.signing.models import SigningCertificate, SigningConsent, SigningCredential
from hoso.signing.settings import SigningSettings
from hoso.signing.trust.service import AuditFn, SessionFactory
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["ConsentService", "CredentialState"]

_HASHER = PasswordHasher()  # argon2id, 64 MiB, t=3: ~50 ms per check, on purpose


class CredentialState:
    ACTIVE = "ACTIVE"
    LOCKED = "LOCKED"
    DISABLED = "DISABLED"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_pin(pin: str, field: str = "pin") -> None:
    if not (6 <= len(pin) <= 64) or not pin.isprintable():
        raise InvalidArgument(f"{field} must be 6 to 64 printable characters", field=field)


def _digest_set(digests: Iterable[bytes], field: str = "digests") -> list[str]:
    values = sorted({d.hex() for d in digests})
    if not values:
        raise InvalidArgument(f"{field} must name at least one SHA-256 digest", field=field)
    if any(len(v) != 64 for v in values):
        raise InvalidArgument(f"{field} must be SHA-256 digests of 32 bytes", field=field)
    return values


class ConsentService:
    """Credentials, PINs and consent tokens.

    Args:
        sessions: opens a session in a transaction (used to persist failed PIN counts).
        settings: the ``[signing]`` section (``pin_max_attempts``, ``consent_ttl_seconds``).
        audit: appends an audit event in a transaction.
    """

    def __init__(self, *, sessions: SessionFactory, settings: SigningSettings, audit: AuditFn):
        self.sessions = sessions
        self.settings = settings
        self._audit = audit

    async def create(
        self,
        session: AsyncSession,
        *,
        certificate_serial: str,
        owner: str,
        pin: str,
        description: str = "",
    ) -> SigningCredential:
        """Bind a certificate whose key is in our store to ``owner``, protected by ``pin``.

        Raises:
            InvalidArgument: weak PIN, empty owner, or a certificate with an external key.
            NotFound: no such certificate.
        """
        _check_pin(pin)
        if not owner.strip():
            raise InvalidArgument("owner is required", field="owner")
        certificate = await session.get(SigningCertificate, certificate_serial)
        if certificate is None:
            raise NotFound(f"no certificate {certificate_serial}", field="certificate")
        if certificate.key_id is None:
            raise InvalidArgument(
                "the certificate's key is external; only keys in our key store make credentials",
                field="certificate",
            )
        now = _now()
        credential = SigningCredential(
            credential_id=f"cred-{secrets.token_hex(12)}",
            certificate_serial_hex=certificate.serial_hex,
            owner=owner.strip(),
            description=description,
            pin_hash=await asyncio.to_thread(_HASHER.hash, pin),
            failed_attempts=0,
            state=CredentialState.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        session.add(credential)
        await session.flush()
        await self._audit(
            session,
            action="trust.credential.create",
            target=f"credentials/{credential.credential_id}",
            details={"certificate": certificate.serial_hex, "owner": credential.owner},
        )
        return credential

    async def get(self, session: AsyncSession, credential_id: str) -> SigningCredential:
        credential = await session.get(SigningCredential, credential_id)
        if credential is None:
            raise NotFound(f"no credential {credential_id}", field="credential_id")
        return credential

    async def _usable(self, session: AsyncSession, credential_id: str) -> SigningCredential:
        credential = await self.get(session, credential_id)
        if credential.state == CredentialState.LOCKED:
            raise FailedPrecondition(
                f"credential {credential_id} is locked after too many wrong PINs; an operator "
                "must reset it"
            )
        if credential.state != CredentialState.ACTIVE:
            raise FailedPrecondition(f"credential {credential_id} is {credential.state}")
        certificate = await session.get(SigningCertificate, credential.certificate_serial_hex)
        assert certificate is not None
        if certificate.state != "ACTIVE":
            raise FailedPrecondition(
                f"the credential's certificate is {certificate.state}; it cannot sign"
            )
        if certificate.not_after <= _now():
            raise FailedPrecondition("the credential's certificate has expired; renew it")
        return credential

    async def _verify_pin(self, credential: SigningCredential, pin: str) -> None:
        try:
            ok: bool = await asyncio.to_thread(_HASHER.verify, credential.pin_hash, pin)
        except (VerificationError, InvalidHashError):
            ok = False
        if ok:
            if credential.failed_attempts:
                credential.failed_attempts = 0
            return
        # Count the failure in its own transaction: the caller's rolls back when we raise.
        limit = self.settings.pin_max_attempts
        async with self.sessions() as counting:
            await counting.execute(
                update(SigningCredential)
                .where(SigningCredential.credential_id == credential.credential_id)
                .values(failed_attempts=SigningCredential.failed_attempts + 1, updated_at=_now())
            )
            attempts = (
                await counting.execute(
                    select(SigningCredential.failed_attempts).where(
                        SigningCredential.credential_id == credential.credential_id
                    )
                )
            ).scalar_one()
            if attempts >= limit:
                await counting.execute(
                    update(SigningCredential)
                    .where(SigningCredential.credential_id == credential.credential_id)
                    .values(state=CredentialState.LOCKED)
                )
            await self._audit(
                counting,
                action="trust.credential.wrong_pin",
                target=f"credentials/{credential.credential_id}",
                details={"attempts": attempts, "locked": attempts >= limit},
            )
        if attempts >= limit:
            raise FailedPrecondition(
                f"wrong PIN; credential {credential.credential_id} is now locked"
            )
        raise PermissionDenied(f"wrong PIN; {limit - attempts} attempt(s) left before lock-out")

    async def authorize(
        self, session: AsyncSession, credential_id: str, pin: str, digests: Iterable[bytes]
    ) -> tuple[str, dt.datetime]:
        """Check the PIN and return a single-use token for exactly these digests, and its expiry.

        Raises:
            InvalidArgument (no/bad digests), NotFound, PermissionDenied (wrong PIN),
            FailedPrecondition (locked credential, revoked/expired certificate).
        """
        values = _digest_set(digests)
        credential = await self._usable(session, credential_id)
        await self._verify_pin(credential, pin)
        token = secrets.token_urlsafe(32)
        now = _now()
        expires = now + dt.timedelta(seconds=self.settings.consent_ttl_seconds)
        session.add(
            SigningConsent(
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                credential_id=credential_id,
                digests=",".join(values),
                expires_at=expires,
                used_at=None,
                created_at=now,
            )
        )
        await session.flush()
        await self._audit(
            session,
            action="trust.credential.authorize",
            target=f"credentials/{credential_id}",
            digest=values[0],
            details={"documents": len(values)},
        )
        return token, expires

    async def consume_consent(
        self,
        session: AsyncSession,
        credential_id: str,
        token_or_pin: str,
        digests: Iterable[bytes],
    ) -> SigningCredential:
        """Allow one signing operation over ``digests`` (SHA-256 of the data to be signed).

        ``token_or_pin`` is either a token from :meth:`authorize` (single use, must cover every
        digest, not expired) or the PIN itself.

        Raises:
            InvalidArgument (no/bad digests), NotFound, PermissionDenied (wrong PIN, unknown,
            used or expired token, digests not covered), FailedPrecondition (locked credential,
            certificate not ACTIVE or expired).
        """
        values = _digest_set(digests)
        credential = await self._usable(session, credential_id)
        token_hash = hashlib.sha256(token_or_pin.encode()).hexdigest()
        consent = await session.get(SigningConsent, token_hash, with_for_update=True)
        if consent is None:
            await self._verify_pin(credential, token_or_pin)
            return credential
        if not hmac.compare_digest(consent.credential_id, credential_id):
            raise PermissionDenied("the consent token belongs to another credential")
        if consent.used_at is not None:
            raise PermissionDenied("the consent token was already used; authorise again")
        if consent.expires_at <= _now():
            raise PermissionDenied("the consent token has expired; authorise again")
        if not set(values) <= set(consent.digests.split(",")):
            raise PermissionDenied(
                "the consent does not cover these documents' digests; authorise them"
            )
        consent.used_at = _now()
        await session.flush()
        return credential

    async def change_pin(
        self, session: AsyncSession, credential_id: str, old_pin: str, new_pin: str
    ) -> SigningCredential:
        """Replace the PIN after checking the old one."""
        _check_pin(new_pin, "new_pin")
        credential = await self._usable(session, credential_id)
        await self._verify_pin(credential, old_pin)
        credential.pin_hash = await asyncio.to_thread(_HASHER.hash, new_pin)
        credential.updated_at = _now()
        await session.flush()
        await self._audit(
            session, action="trust.credential.change_pin", target=f"credentials/{credential_id}"
        )
        return credential
