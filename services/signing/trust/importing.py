"""Checks of an imported certificate authority: parse, then refuse anything that cannot work.

An operator may bring an existing root and issuing CA (and the issuing key) instead of the one
created on first start. Everything here is pure: the caller stores the key and the rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hoso.common.errors import FailedPrecondition, InvalidArgument
from hoso.signing.keystore.api import KeyHandle, PublicKey, algorithm_of_public_key

__all__ = [
    "CaImport",
    "OfflineKeyHandle",
    "check_ca_import",
    "load_certificate",
    "load_private_key",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class CaImport:
    """A checked root + issuing CA pair, with the issuing key when it was sent."""

    root: x509.Certificate
    issuing: x509.Certificate
    issuing_key: PrivateKey | None


def load_certificate(data: bytes, field: str) -> x509.Certificate:
    """Parse a PEM or DER certificate; ``InvalidArgument`` naming ``field`` otherwise."""
    if not data:
        raise InvalidArgument(f"{field} is empty: send the certificate in PEM or DER", field=field)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as e:
        raise InvalidArgument(
            f"{field} is not an X.509 certificate in PEM or DER", field=field
        ) from e


def load_private_key(data: bytes, passphrase: str | None, field: str) -> PrivateKey:
    """Parse a PKCS#8 (or traditional) private key in PEM or DER, encrypted or not.

    Raises:
        InvalidArgument: unparsable, wrong or missing passphrase, or a key type we refuse.
    """
    secret = passphrase.encode() if passphrase else None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=secret)
        else:
            key = serialization.load_der_private_key(data, password=secret)
    except TypeError as e:  # encrypted without a passphrase, or a passphrase for a plain key
        raise InvalidArgument(
            f"{field}: {e}; set private_key_passphrase to the key's passphrase (or leave it "
            "empty for an unencrypted key)",
            field="private_key_passphrase",
        ) from e
    except (ValueError, UnsupportedAlgorithm) as e:
        raise InvalidArgument(
            f"{field} cannot be read (not PKCS#8 PEM/DER, or the passphrase is wrong)",
            field=field,
        ) from e
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InvalidArgument(f"{field} must be an RSA or EC key", field=field)
    return key


def _require_ca(certificate: x509.Certificate, field: str) -> None:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise InvalidArgument(
            f"{field} is not a CA certificate (basicConstraints cA=true is required)", field=field
        )
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise InvalidArgument(f"{field} lacks the keyCertSign key usage", field=field)


def _same_public_key(a: object, b: object) -> bool:
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(*raw) == b.public_bytes(*raw)  # type: ignore[attr-defined]


def check_ca_import(
    root: x509.Certificate,
    issuing: x509.Certificate,
    issuing_key: PrivateKey | None,
    *,
    now: dt.datetime,
) -> CaImport:
    """Refuse a pair that could not issue verifiable certificates.

    Checks: both are CA certificates; the root is self-signed; the issuing CA is signed by
    the root; both are valid now; the key (when given) is the issuing certificate's; key
    types are ones we sign with.

    Raises:
        InvalidArgument: naming the field at fault and what to send instead.
    """
    _require_ca(root, "root_certificate")
    _require_ca(issuing, "issuing_certificate")
    try:
        root.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature) as e:
        raise InvalidArgument(
            "root_certificate is not self-signed: send the top of the chain",
            field="root_certificate",
        ) from e
    try:
        issuing.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature) as e:
        raise InvalidArgument(
            "issuing_certificate is not signed by root_certificate: send the root that issued it",
            field="issuing_certificate",
        ) from e
    for certificate, field in ((root, "root_certificate"), (issuing, "issuing_certificate")):
        if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
            raise InvalidArgument(
                f"{field} is not valid now (valid {certificate.not_valid_before_utc:%Y-%m-%d} to "
                f"{certificate.not_valid_after_utc:%Y-%m-%d})",
                field=field,
            )
    try:
        algorithm_of_public_key(issuing.public_key())
    except ValueError as e:
        raise InvalidArgument(
            f"issuing_certificate key refused: {e}", field="issuing_certificate"
        ) from e
    if issuing_key is not None and not _same_public_key(
        issuing_key.public_key(), issuing.public_key()
    ):
        raise InvalidArgument(
            "issuing_private_key does not match issuing_certificate's public key",
            field="issuing_private_key",
        )
    return CaImport(root=root, issuing=issuing, issuing_key=issuing_key)


class OfflineKeyHandle(KeyHandle):
    """The key of an imported root that stays offline: its public half only.

    Signing with it (a root CRL, a new issuing CA) is refused with a message saying where
    that happens instead.
    """

    def __init__(self, public_key: PublicKey) -> None:
        self.key_id = ""
        self.algorithm = algorithm_of_public_key(public_key)
        self.public_key = public_key

    async def _sign_digest(self, digest: bytes, digest_algorithm: str) -> bytes:
        raise FailedPrecondition(
            "the imported root CA's key is offline: sign its CRLs at the root's own key ceremony"
        )
