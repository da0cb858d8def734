"""Settings of the signing service: key custody, the certificate authority, OCSP, CRL, TSA.

The section is ``[signing]`` in the TOML file, ``HOSO_SIGNING__<OPTION>`` in the environment.
URLs written into certificates derive from ``server.public_base_url``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from hoso.common.config import Section
from hoso.signing.keystore.api import KeyAlgorithm
from pydantic import Field, SecretStr, model_validator

__all__ = ["SECTION", "SECTION_NAME", "KeyStoreKind", "SigningSettings"]

SECTION_NAME = "signing"

#: A policy OID under the UUID arc (ITU-T X.667), which anyone may allocate without registry.
DEFAULT_TSA_POLICY_OID = "2.25.215104470913474018356209616101178113473"


class KeyStoreKind(StrEnum):
    """Where private keys live."""

    SOFTWARE = "software"
    PKCS11 = "pkcs11"


class SigningSettings(Section):
    """Key custody, the certificate authority, revocation, timestamps and signer consent."""

    key_store: KeyStoreKind = Field(
        KeyStoreKind.SOFTWARE,
        description="Key store: software (PKCS#8 files encrypted at rest) or pkcs11 (an HSM).",
    )
    key_directory: Path | None = Field(
        None, description="Directory of software key files; empty means data_dir/keys."
    )
    key_passphrase: SecretStr | None = Field(
        None,
        description="Passphrase encrypting software keys at rest. Empty: one is generated into "
        "data_dir/keys/passphrase (embedded default only; set it in production).",
    )
    pkcs11_module: str = Field(
        "/usr/lib/softhsm/libsofthsm2.so", description="PKCS#11 library of the HSM."
    )
    pkcs11_token_label: str = Field("hoso", description="Label of the PKCS#11 token holding keys.")
    pkcs11_user_pin: SecretStr | None = Field(
        None, description="User PIN of the PKCS#11 token (required with key_store = pkcs11)."
    )
    ca_key_algorithm: KeyAlgorithm = Field(
        KeyAlgorithm.EC_P384,
        description="Key type of the root and issuing CA created on first start.",
    )
    service_key_algorithm: KeyAlgorithm = Field(
        KeyAlgorithm.EC_P256,
        description="Key type of the TSA and OCSP responder certificates created on first start.",
    )
    ca_organization: str = Field(
        "Hoso Trust Services", description="Organisation (O) of the CA certificates created."
    )
    ca_country: str = Field("VN", description="Country (C) of the CA certificates created.")
    root_validity_days: int = Field(7300, ge=1, description="Lifetime of a created root CA.")
    issuing_validity_days: int = Field(3650, ge=1, description="Lifetime of a created issuing CA.")
    certificate_validity_days: int = Field(
        730, ge=1, description="Default lifetime of issued end-entity certificates."
    )
    crl_validity_hours: float = Field(
        24.0, gt=0, description="CRL nextUpdate is this long after thisUpdate."
    )
    crl_refresh_hours: float = Field(
        6.0,
        gt=0,
        description="A served CRL is regenerated when less than this remains before nextUpdate.",
    )
    ocsp_validity_minutes: float = Field(
        60.0, gt=0, description="OCSP responses' nextUpdate is this long after thisUpdate."
    )
    tsa_policy_oid: str = Field(
        DEFAULT_TSA_POLICY_OID,
        pattern=r"^[0-2](\.(0|[1-9][0-9]*))+$",
        description="Policy OID written into every timestamp token.",
    )
    tsa_accuracy_seconds: int = Field(
        1, ge=0, description="Accuracy claimed in timestamp tokens, in seconds."
    )
    pin_max_attempts: int = Field(
        5, ge=1, description="Wrong PINs in a row after which a credential locks."
    )
    consent_ttl_seconds: int = Field(
        300, ge=1, description="How long an authorisation (SAD) for given digests stays usable."
    )

    max_document_bytes: int = Field(
        200 * 1024 * 1024,
        ge=1024,
        description="Largest PDF or file accepted for signing, in bytes (RESOURCE_EXHAUSTED above).",
    )
    spool_dir: Path | None = Field(
        None,
        description="Directory for documents being signed and prepared for remote signing; "
        "empty means data_dir/signing.",
    )
    prepared_ttl_seconds: int = Field(
        900,
        ge=10,
        description="How long a prepared (two-phase) signature waits for its completion.",
    )
    request_retention_hours: float = Field(
        24.0,
        gt=0,
        description="How long a signing request id keeps returning its first result.",
    )
    tsa_in_process: bool = Field(
        True,
        description="Time-stamp signatures with our own TSA first (in process, no HTTP); turn "
        "off to use only the external tsa_urls.",
    )
    tsa_urls: list[str] = Field(
        default_factory=list,
        description="External RFC 3161 time-stamp authorities tried in order when our own TSA "
        "fails; empty means our in-process TSA only.",
    )
    tsa_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of one request to an external time-stamp authority."
    )
    default_level: str = Field(
        "B-T",
        pattern=r"^B-(B|T|LT|LTA)$",
        description="PAdES level used when a request does not name one (B-B, B-T, B-LT, B-LTA).",
    )

    # Verification (#5): limits that keep a hostile file from exhausting the verifier.
    verify_max_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024,
        description="Largest PDF or signed file accepted for verification, in bytes "
        "(RESOURCE_EXHAUSTED above).",
    )
    verify_max_objects: int = Field(
        1_000_000,
        ge=100,
        description="Most PDF objects a verified file may hold or declare (RESOURCE_EXHAUSTED "
        "above).",
    )
    verify_max_revisions: int = Field(
        500, ge=1, description="Most revisions (incremental updates) a verified PDF may have."
    )
    verify_max_signatures: int = Field(
        200, ge=1, description="Most signatures and document timestamps a verified PDF may have."
    )
    verify_default_trust_profile: str = Field(
        "hoso-root",
        pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$",
        description="Trust profile used when a verification request names none (the built-in "
        "hoso-root trusts this server's own root CA).",
    )
    verify_allow_online_fetch: bool = Field(
        False,
        description="Fetch missing OCSP/CRL data online for every verification, even when the "
        "request does not ask for it (offline by default: only what the file carries is used).",
    )

    @model_validator(mode="after")
    def _pkcs11_needs_pin(self) -> SigningSettings:
        if self.key_store is KeyStoreKind.PKCS11 and self.pkcs11_user_pin is None:
            raise ValueError("key_store = pkcs11 needs pkcs11_user_pin")
        return self

    @staticmethod
    def pki_urls(public_base_url: str) -> dict[str, str]:
        """The HTTP URLs of the trust services under ``public_base_url``.

        Keys: ``crl`` (issuing CA CRL), ``root_crl``, ``ocsp``, ``ca_issuers`` (issuing CA
        certificate), ``root_cert`` and ``tsa``.
        """
        base = public_base_url.rstrip("/")
        return {
            "crl": f"{base}/pki/issuing.crl",
            "root_crl": f"{base}/pki/root.crl",
            "ocsp": f"{base}/pki/ocsp",
            "ca_issuers": f"{base}/pki/issuing.cer",
            "root_cert": f"{base}/pki/root.cer",
            "tsa": f"{base}/pki/tsa",
        }


SECTION = SigningSettings
