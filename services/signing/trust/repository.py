"""Catalog access for trust services. Repositories flush but never commit."""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hoso.signing.keystore.api import algorithm_of_public_key
from hoso.signing.models import SigningCertificate, SigningCrl
from hoso.signing.trust.profiles import Profile
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["CertificateRepository", "CrlRepository", "serial_hex"]

ACTIVE = "ACTIVE"
REVOKED = "REVOKED"
SUSPENDED = "SUSPENDED"


def serial_hex(serial: int) -> str:
    """Lower-case hex without leading zeros (the resource id of a certificate)."""
    return format(serial, "x")


class CertificateRepository:
    """Rows of ``signing_certificates``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        certificate: x509.Certificate,
        *,
        profile: Profile,
        subject_key: str,
        issuer_serial_hex: str | None,
        key_store: str,
        key_id: str | None,
        now: dt.datetime,
        renewed_from: str | None = None,
        request_id: str | None = None,
    ) -> SigningCertificate:
        der = certificate.public_bytes(serialization.Encoding.DER)
        row = SigningCertificate(
            serial_hex=serial_hex(certificate.serial_number),
            profile=profile.value,
            subject=certificate.subject.rfc4514_string(),
            subject_hash=hashlib.sha256(subject_key.encode()).hexdigest(),
            issuer_serial_hex=issuer_serial_hex,
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            state=ACTIVE,
            key_algorithm=algorithm_of_public_key(certificate.public_key()).value,
            key_store=key_store,
            key_id=key_id,
            der=der,
            sha256=hashlib.sha256(der).hexdigest(),
            renewed_from=renewed_from,
            request_id=request_id,
            created_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, serial: str, *, for_update: bool = False) -> SigningCertificate | None:
        statement = select(SigningCertificate).where(SigningCertificate.serial_hex == serial)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def by_request_id(self, request_id: str) -> SigningCertificate | None:
        statement = select(SigningCertificate).where(SigningCertificate.request_id == request_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def live_with_subject(
        self, profile: Profile, subject_key: str, now: dt.datetime
    ) -> SigningCertificate | None:
        """An unexpired ACTIVE or SUSPENDED certificate of ``profile`` with this subject."""
        statement = (
            select(SigningCertificate)
            .where(
                SigningCertificate.profile == profile.value,
                SigningCertificate.subject_hash == hashlib.sha256(subject_key.encode()).hexdigest(),
                SigningCertificate.state.in_([ACTIVE, SUSPENDED]),
                SigningCertificate.not_after > now,
            )
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def current_of_profile(
        self, profile: Profile, *, require_key: bool = True
    ) -> SigningCertificate | None:
        """The newest ACTIVE certificate of a profile (with a key in our store, by default)."""
        conditions = [
            SigningCertificate.profile == profile.value,
            SigningCertificate.state == ACTIVE,
        ]
        if require_key:
            conditions.append(SigningCertificate.key_id.is_not(None))
        statement = (
            select(SigningCertificate)
            .where(*conditions)
            .order_by(SigningCertificate.created_at.desc(), SigningCertificate.serial_hex)
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def revoked_by(self, issuer_serial: str) -> list[SigningCertificate]:
        statement = (
            select(SigningCertificate)
            .where(
                SigningCertificate.issuer_serial_hex == issuer_serial,
                SigningCertificate.state.in_([REVOKED, SUSPENDED]),
            )
            .order_by(SigningCertificate.serial_hex)
        )
        return list((await self.session.execute(statement)).scalars())

    async def page(
        self,
        *,
        profile: Profile | None,
        state: str | None,
        subject_contains: str | None,
        after_serial: str | None,
        limit: int,
    ) -> list[SigningCertificate]:
        statement = select(SigningCertificate).order_by(SigningCertificate.serial_hex)
        if profile is not None:
            statement = statement.where(SigningCertificate.profile == profile.value)
        if state is not None:
            statement = statement.where(SigningCertificate.state == state)
        if subject_contains:
            statement = statement.where(SigningCertificate.subject.contains(subject_contains))
        if after_serial:
            statement = statement.where(SigningCertificate.serial_hex > after_serial)
        return list((await self.session.execute(statement.limit(limit))).scalars())


class CrlRepository:
    """Rows of ``signing_crls``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def latest(self, issuer_serial: str) -> SigningCrl | None:
        statement = (
            select(SigningCrl)
            .where(SigningCrl.issuer_serial_hex == issuer_serial)
            .order_by(SigningCrl.number.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def next_number(self, issuer_serial: str) -> int:
        statement = select(func.max(SigningCrl.number)).where(
            SigningCrl.issuer_serial_hex == issuer_serial
        )
        current = (await self.session.execute(statement)).scalar_one_or_none()
        return (current or 0) + 1

    async def add(self, row: SigningCrl) -> SigningCrl:
        self.session.add(row)
        await self.session.flush()
        return row
