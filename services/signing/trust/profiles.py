"""Certificate profiles: what each kind of certificate may do and how it is managed."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

__all__ = ["DOCUMENT_SIGNING", "PROFILES", "Profile", "ProfileSpec"]

#: id-kp-documentSigning (RFC 9336).
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


class Profile(enum.StrEnum):
    """Certificate profiles; the CA profiles are used only for the authority itself."""

    OFFICIAL = "OFFICIAL"
    AGENCY_SEAL = "AGENCY_SEAL"
    TSA = "TSA"
    OCSP_RESPONDER = "OCSP_RESPONDER"
    ROOT_CA = "ROOT_CA"
    ISSUING_CA = "ISSUING_CA"


@dataclass(frozen=True)
class ProfileSpec:
    """The rules of one profile."""

    key_usage: frozenset[str]
    """``x509.KeyUsage`` flags set (all others clear)."""
    extended_key_usage: tuple[ObjectIdentifier, ...] = ()
    """EKU purposes; empty means no EKU extension."""
    eku_critical: bool = False
    """Whether the EKU extension is marked critical (RFC 3161 demands it for TSAs)."""
    ocsp_no_check: bool = False
    """Add id-pkix-ocsp-nocheck (delegated OCSP responders)."""
    may_suspend: bool = False
    """Whether certificateHold (suspend/unsuspend) is allowed."""
    unique_subject: bool = False
    """Whether two ACTIVE or SUSPENDED certificates of this profile may share a subject."""
    issuable: bool = True
    """Whether IssueCertificate accepts the profile (false for the CA's own)."""

    def key_usage_extension(self) -> x509.KeyUsage:
        """The KeyUsage extension value for this profile."""
        flags = {
            name: name in self.key_usage
            for name in (
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
            )
        }
        return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)


PROFILES: dict[Profile, ProfileSpec] = {
    Profile.OFFICIAL: ProfileSpec(
        key_usage=frozenset({"digital_signature", "content_commitment"}),
        extended_key_usage=(ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING),
        may_suspend=True,
        unique_subject=True,
    ),
    Profile.AGENCY_SEAL: ProfileSpec(
        key_usage=frozenset({"digital_signature", "content_commitment"}),
        extended_key_usage=(ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING),
        may_suspend=True,
        unique_subject=True,
    ),
    Profile.TSA: ProfileSpec(
        key_usage=frozenset({"digital_signature", "content_commitment"}),
        extended_key_usage=(ExtendedKeyUsageOID.TIME_STAMPING,),
        eku_critical=True,
    ),
    Profile.OCSP_RESPONDER: ProfileSpec(
        key_usage=frozenset({"digital_signature"}),
        extended_key_usage=(ExtendedKeyUsageOID.OCSP_SIGNING,),
        ocsp_no_check=True,
    ),
    Profile.ROOT_CA: ProfileSpec(
        key_usage=frozenset({"digital_signature", "key_cert_sign", "crl_sign"}), issuable=False
    ),
    Profile.ISSUING_CA: ProfileSpec(
        key_usage=frozenset({"digital_signature", "key_cert_sign", "crl_sign"}), issuable=False
    ),
}
