"""The key custody interface: handles to private keys that never leave their store.

A :class:`KeyStore` creates and finds keys; a :class:`KeyHandle` signs with one. Callers never
see private key material, only the public key and the signatures. Two implementations sit
beside this module: :mod:`hoso.signing.keystore.software` (PKCS#8 files encrypted at rest) and
:mod:`hoso.signing.keystore.pkcs11` (a PKCS#11 token such as SoftHSM2 or a real HSM).

Signature schemes are fixed by the key type, as Vietnamese rules require: RSA keys sign with
RSASSA-PSS (MGF1 with the same hash, salt length = digest length) and EC keys with ECDSA
(DER-encoded ``Ecdsa-Sig-Value``). SHA-1 and MD5 are refused.
"""

from __future__ import annotations

import abc
import enum
import hashlib

from asn1crypto import algos
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

__all__ = [
    "DIGEST_ALGORITHMS",
    "KeyAlgorithm",
    "KeyHandle",
    "KeyStore",
    "PublicKey",
    "algorithm_of_public_key",
    "check_digest_algorithm",
    "signature_algorithm_for",
    "verify_signature",
]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

#: Digest algorithms a handle accepts, mapped to their output length in bytes.
DIGEST_ALGORITHMS: dict[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class KeyAlgorithm(enum.StrEnum):
    """Key types the stores can generate; each implies its signature scheme."""

    RSA_2048 = "RSA_2048"
    RSA_3072 = "RSA_3072"
    EC_P256 = "EC_P256"
    EC_P384 = "EC_P384"

    @property
    def is_rsa(self) -> bool:
        """True for RSA keys (signing with RSASSA-PSS)."""
        return self in (KeyAlgorithm.RSA_2048, KeyAlgorithm.RSA_3072)

    @property
    def rsa_bits(self) -> int:
        """The modulus size of an RSA key type."""
        return {KeyAlgorithm.RSA_2048: 2048, KeyAlgorithm.RSA_3072: 3072}[self]

    @property
    def digest_algorithm(self) -> str:
        """The hash this key type signs with: SHA-384 for P-384 (matching its strength), else
        SHA-256."""
        return "sha384" if self is KeyAlgorithm.EC_P384 else "sha256"

    @property
    def curve_name(self) -> str:
        """The SEC name of an EC key type's curve (``secp256r1``, ``secp384r1``)."""
        return {KeyAlgorithm.EC_P256: "secp256r1", KeyAlgorithm.EC_P384: "secp384r1"}[self]


def check_digest_algorithm(digest_algorithm: str) -> str:
    """Normalise a digest algorithm name and refuse the weak or unknown ones.

    Raises:
        ValueError: the algorithm is not SHA-256, SHA-384 or SHA-512.
    """
    name = digest_algorithm.lower().replace("-", "")
    if name not in DIGEST_ALGORITHMS:
        raise ValueError(f"digest algorithm {digest_algorithm!r} is not allowed; use sha256+")
    return name


def algorithm_of_public_key(public_key: object) -> KeyAlgorithm:
    """Classify a public key, refusing the types and sizes we do not sign with.

    Raises:
        ValueError: the key is not RSA 2048/3072/4096 or EC P-256/P-384; the message says why.
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise ValueError(f"RSA key of {public_key.key_size} bits is too weak; use ≥ 2048")
        return KeyAlgorithm.RSA_2048 if public_key.key_size < 3072 else KeyAlgorithm.RSA_3072
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name == "secp256r1":
            return KeyAlgorithm.EC_P256
        if public_key.curve.name == "secp384r1":
            return KeyAlgorithm.EC_P384
        raise ValueError(f"EC curve {public_key.curve.name} is not allowed; use P-256 or P-384")
    raise ValueError(f"{type(public_key).__name__} keys are not allowed; use RSA or EC")


def signature_algorithm_for(
    public_key: PublicKey, digest_algorithm: str = "sha256"
) -> algos.SignedDigestAlgorithm:
    """The CMS/X.509 ``SignedDigestAlgorithm`` a key of this type produces.

    RSA: ``rsassa_pss`` with explicit parameters; EC: ``sha256_ecdsa`` and friends.
    """
    digest = check_digest_algorithm(digest_algorithm)
    if isinstance(public_key, rsa.RSAPublicKey):
        return algos.SignedDigestAlgorithm(
            {
                "algorithm": "rsassa_pss",
                "parameters": algos.RSASSAPSSParams(
                    {
                        "hash_algorithm": {"algorithm": digest},
                        "mask_gen_algorithm": {
                            "algorithm": "mgf1",
                            "parameters": {"algorithm": digest},
                        },
                        "salt_length": DIGEST_ALGORITHMS[digest],
                    }
                ),
            }
        )
    return algos.SignedDigestAlgorithm({"algorithm": f"{digest}_ecdsa"})


def verify_signature(
    public_key: PublicKey, signature: bytes, data: bytes, digest_algorithm: str = "sha256"
) -> None:
    """Check a signature made by :meth:`KeyHandle.sign` (raises ``InvalidSignature``)."""
    digest = check_digest_algorithm(digest_algorithm)
    hash_algorithm = _HASHES[digest]()
    if isinstance(public_key, rsa.RSAPublicKey):
        pss = padding.PSS(padding.MGF1(_HASHES[digest]()), DIGEST_ALGORITHMS[digest])
        public_key.verify(signature, data, pss, hash_algorithm)
    else:
        public_key.verify(signature, data, ec.ECDSA(hash_algorithm))


def _prehash(data: bytes, digest_algorithm: str) -> bytes:
    return hashlib.new(digest_algorithm, data).digest()


class KeyHandle(abc.ABC):
    """A private key in a store, usable for signing only.

    Attributes:
        key_id: the store's stable identifier of the key (use it with :meth:`KeyStore.get`).
        algorithm: the key type, which fixes the signature scheme.
        public_key: the public half, as a ``cryptography`` public key object.
    """

    key_id: str
    algorithm: KeyAlgorithm
    public_key: PublicKey

    async def sign(self, data: bytes, *, digest_algorithm: str = "sha256") -> bytes:
        """Hash ``data`` and sign it: RSASSA-PSS for RSA keys, DER ECDSA for EC keys.

        The hash is computed here, in Python, so that tokens lacking combined hash-and-sign
        mechanisms (SoftHSM 2.6 has no ``ECDSA_SHA256``) follow the same path.

        Raises:
            ValueError: the digest algorithm is not allowed.
            hoso.common.errors.Unavailable: the key store cannot be reached (retry later).
        """
        name = check_digest_algorithm(digest_algorithm)
        return await self._sign_digest(_prehash(data, name), name)

    async def sign_digest(self, digest: bytes, *, digest_algorithm: str = "sha256") -> bytes:
        """Sign a digest computed by the caller (same schemes as :meth:`sign`).

        Raises:
            ValueError: the digest has the wrong length for ``digest_algorithm``.
        """
        name = check_digest_algorithm(digest_algorithm)
        if len(digest) != DIGEST_ALGORITHMS[name]:
            raise ValueError(f"a {name} digest has {DIGEST_ALGORITHMS[name]} bytes")
        return await self._sign_digest(digest, name)

    @abc.abstractmethod
    async def _sign_digest(self, digest: bytes, digest_algorithm: str) -> bytes:
        """Sign a checked digest of a checked algorithm (implementations override this)."""

    def signature_algorithm(self, digest_algorithm: str = "sha256") -> algos.SignedDigestAlgorithm:
        """The ``SignedDigestAlgorithm`` describing this key's signatures, for CMS and X.509."""
        return signature_algorithm_for(self.public_key, digest_algorithm)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key_id} {self.algorithm}>"


class KeyStore(abc.ABC):
    """Creates and finds keys. The owner of a store closes it (``close`` or ``async with``)."""

    @abc.abstractmethod
    async def generate(self, algorithm: KeyAlgorithm, label: str) -> KeyHandle:
        """Generate a key inside the store and return its handle.

        Args:
            algorithm: the key type.
            label: a human-readable label kept beside the key (not necessarily unique).

        Raises:
            hoso.common.errors.Unavailable: the store cannot be reached.
        """

    @abc.abstractmethod
    async def get(self, key_id: str) -> KeyHandle:
        """Find a key by the ``key_id`` of its handle.

        Raises:
            hoso.common.errors.NotFound: no such key.
            hoso.common.errors.Unavailable: the store cannot be reached.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the store's resources (sessions, cached keys)."""

    async def __aenter__(self) -> KeyStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
