"""Catalog tables of the signing service (prefix ``signing_``).

Trust services: issued certificates with their status, published CRLs, signer credentials and
single-use consents. Other signing components may add their tables here.
"""

from __future__ import annotations

import datetime as dt

from hoso.common.db import Base, UTCDateTime
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

__all__ = [
    "SigningCertificate",
    "SigningConsent",
    "SigningCredential",
    "SigningCrl",
    "SigningPrepared",
    "SigningRequest",
    "SigningTrustProfile",
]


class SigningCertificate(Base):
    """A certificate this CA issued (or imported as its own), and its current status."""

    __tablename__ = "signing_certificates"

    serial_hex: Mapped[str] = mapped_column(String(42), primary_key=True)
    profile: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(Text)
    # SHA-256 of the case-folded RFC 4514 subject: finds duplicates without a huge index.
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    issuer_serial_hex: Mapped[str | None] = mapped_column(String(42))
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), index=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    revocation_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    key_algorithm: Mapped[str] = mapped_column(String(16))
    key_store: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str | None] = mapped_column(String(64))
    der: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    renewed_from: Mapped[str | None] = mapped_column(String(42))
    request_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SigningCrl(Base):
    """A CRL as published; the highest number per issuer is the current one."""

    __tablename__ = "signing_crls"

    issuer_serial_hex: Mapped[str] = mapped_column(String(42), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    this_update: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    next_update: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    der: Mapped[bytes] = mapped_column(LargeBinary)


class SigningCredential(Base):
    """A certificate and its key bound to an owner, usable with the owner's PIN."""

    __tablename__ = "signing_credentials"

    credential_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    certificate_serial_hex: Mapped[str] = mapped_column(
        ForeignKey("signing_certificates.serial_hex"), index=True
    )
    owner: Mapped[str] = mapped_column(String(256), index=True)
    description: Mapped[str] = mapped_column(String(512), default="")
    pin_hash: Mapped[str] = mapped_column(String(256))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SigningConsent(Base):
    """A single-use authorisation (SAD) to sign exactly the listed digests."""

    __tablename__ = "signing_consents"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    credential_id: Mapped[str] = mapped_column(
        ForeignKey("signing_credentials.credential_id"), index=True
    )
    # Sorted lower-case hex SHA-256 digests, comma-separated.
    digests: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SigningPrepared(Base):
    """A document prepared for remote (two-phase) signing, kept in the spool until it expires.

    The prepared PDF (signature placeholder reserved) lives in the spool directory under
    ``prepared_id``; this row keeps what completing it needs.
    """

    __tablename__ = "signing_prepared"

    prepared_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Groups the documents of a PrepareBatch (NULL for a single PrepareSignature).
    batch_id: Mapped[str | None] = mapped_column(String(40), index=True)
    batch_position: Mapped[int] = mapped_column(Integer, default=0)
    document_label: Mapped[str] = mapped_column(String(512), default="")
    caller: Mapped[str] = mapped_column(String(256))
    credential_id: Mapped[str | None] = mapped_column(String(40))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    chain_der: Mapped[bytes] = mapped_column(LargeBinary)
    level: Mapped[str] = mapped_column(String(8))
    digest_algorithm: Mapped[str] = mapped_column(String(16))
    field_name: Mapped[str] = mapped_column(String(256))
    input_sha256: Mapped[str] = mapped_column(String(64))
    document_digest: Mapped[bytes] = mapped_column(LargeBinary)
    signed_attrs_der: Mapped[bytes] = mapped_column(LargeBinary)
    reserved_start: Mapped[int] = mapped_column(BigInteger)
    reserved_end: Mapped[int] = mapped_column(BigInteger)
    # Serialised hoso.signing.v1.ArchiveTarget, empty when the result is not archived.
    archive: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    filename: Mapped[str] = mapped_column(String(512), default="")
    state: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SigningRequest(Base):
    """An idempotent signing request: a repeated request id returns this first result."""

    __tablename__ = "signing_requests"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    method: Mapped[str] = mapped_column(String(64))
    caller: Mapped[str] = mapped_column(String(256))
    # SHA-256 of what identifies the request (input digest, credential, options).
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    # Serialised result message (e.g. SignPdfResult); empty while PENDING.
    result: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    # Spool-relative path of the kept output, with its SHA-256 for a check on replay.
    output_path: Mapped[str | None] = mapped_column(String(512))
    output_sha256: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SigningTrustProfile(Base):
    """A named set of trust anchors that verification validates against (#5)."""

    __tablename__ = "signing_trust_profiles"

    profile_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # own_root / national_root / government_root (built-in slots) or custom.
    kind: Mapped[str] = mapped_column(String(32))
    # JSON list of {"label": str, "der": base64}; a built-in slot may be empty until imported.
    anchors: Mapped[str] = mapped_column(Text)
    require_revocation_check: Mapped[bool] = mapped_column(Boolean, default=True)
    default_profile: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped on every change; the etag clients send back.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Idempotency keys of the creating and the last updating request.
    create_request_id: Mapped[str | None] = mapped_column(String(128))
    update_request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
