"""Software keys: PKCS#8 files encrypted at rest with a passphrase, cached once loaded.

The embedded default key store. Each key is a file ``<key_id>.p8`` (PEM, encrypted PKCS#8)
in one directory; a small ``<key_id>.label`` file keeps its label. Decrypting a key costs tens of
milliseconds (the passphrase KDF plus parsing), so each key is loaded once and kept in memory for
the life of the store.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from hoso.common.errors import NotFound, Unavailable
from hoso.signing.keystore.api import (
    DIGEST_ALGORITHMS,
    KeyAlgorithm,
    KeyHandle,
    KeyStore,
    algorithm_of_public_key,
)

__all__ = ["SoftwareKeyHandle", "SoftwareKeyStore"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _generate_private_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm.is_rsa:
        return rsa.generate_private_key(public_exponent=65537, key_size=algorithm.rsa_bits)
    curve = ec.SECP256R1() if algorithm is KeyAlgorithm.EC_P256 else ec.SECP384R1()
    return ec.generate_private_key(curve)


class SoftwareKeyHandle(KeyHandle):
    """A decrypted software key held in memory; signing runs on the calling thread.

    Signing with a cached key takes well under a millisecond for EC and ~1 ms for RSA-2048,
    so it runs inline rather than paying a thread hop.
    """

    def __init__(self, key_id: str, private_key: PrivateKey) -> None:
        self.key_id = key_id
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.algorithm = algorithm_of_public_key(self.public_key)

    async def _sign_digest(self, digest: bytes, digest_algorithm: str) -> bytes:
        return self.sign_digest_sync(digest, digest_algorithm)

    def sign_digest_sync(self, digest: bytes, digest_algorithm: str = "sha256") -> bytes:
        """Sign a digest synchronously (for code that is not async, such as process workers)."""
        hash_algorithm = _HASHES[digest_algorithm]()
        prehashed = utils.Prehashed(hash_algorithm)
        if isinstance(self._private_key, rsa.RSAPrivateKey):
            pss = padding.PSS(
                padding.MGF1(_HASHES[digest_algorithm]()), DIGEST_ALGORITHMS[digest_algorithm]
            )
            return self._private_key.sign(digest, pss, prehashed)
        return self._private_key.sign(digest, ec.ECDSA(prehashed))


class SoftwareKeyStore(KeyStore):
    """Keys as encrypted PKCS#8 files in ``directory``.

    Args:
        directory: where the key files live (created if missing, mode 0700).
        passphrase: encrypts every key at rest; losing it loses the keys.
    """

    def __init__(self, directory: Path | str, passphrase: str) -> None:
        if not passphrase:
            raise ValueError("a software key store needs a non-empty passphrase")
        self._directory = Path(directory)
        self._passphrase = passphrase.encode("utf-8")
        self._cache: dict[str, SoftwareKeyHandle] = {}
        self._lock = asyncio.Lock()

    def _path(self, key_id: str) -> Path:
        if not _KEY_ID.match(key_id):
            raise NotFound(f"no key {key_id!r} (key ids are 1-64 letters, digits, - or _)")
        return self._directory / f"{key_id}.p8"

    async def generate(self, algorithm: KeyAlgorithm, label: str) -> SoftwareKeyHandle:
        """Generate a key, write it encrypted, and cache its handle."""
        private_key = await asyncio.to_thread(_generate_private_key, algorithm)
        key_id = f"sw-{secrets.token_hex(10)}"
        pem = await asyncio.to_thread(
            private_key.private_bytes,
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        try:
            await asyncio.to_thread(self._write, key_id, pem, label)
        except OSError as e:
            raise Unavailable(f"cannot write key file in {self._directory}: {e}") from e
        handle = SoftwareKeyHandle(key_id, private_key)
        self._cache[key_id] = handle
        return handle

    def _write(self, key_id: str, pem: bytes, label: str) -> None:
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(key_id)
        # Write-then-rename so a crash never leaves a truncated key behind.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        path.with_suffix(".label").write_text(label, encoding="utf-8")

    async def import_private_key(self, private_key: PrivateKey, label: str) -> SoftwareKeyHandle:
        """Store an existing private key (used when an operator imports a CA key)."""
        algorithm_of_public_key(private_key.public_key())
        key_id = f"sw-{secrets.token_hex(10)}"
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        await asyncio.to_thread(self._write, key_id, pem, label)
        handle = SoftwareKeyHandle(key_id, private_key)
        self._cache[key_id] = handle
        return handle

    async def get(self, key_id: str) -> SoftwareKeyHandle:
        """Return the cached handle, loading and decrypting the key file on first use."""
        handle = self._cache.get(key_id)
        if handle is not None:
            return handle
        async with self._lock:
            handle = self._cache.get(key_id)
            if handle is None:
                handle = await asyncio.to_thread(self._load, key_id)
                self._cache[key_id] = handle
        return handle

    def _load(self, key_id: str) -> SoftwareKeyHandle:
        path = self._path(key_id)
        try:
            pem = path.read_bytes()
        except FileNotFoundError as e:
            raise NotFound(f"no key {key_id!r} in the software key store") from e
        except OSError as e:
            raise Unavailable(f"cannot read key file {path}: {e}") from e
        try:
            private_key = serialization.load_pem_private_key(pem, self._passphrase)
        except (ValueError, TypeError) as e:
            raise Unavailable(
                f"cannot decrypt key {key_id!r}: wrong passphrase or damaged file"
            ) from e
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise Unavailable(f"key {key_id!r} is neither RSA nor EC")
        return SoftwareKeyHandle(key_id, private_key)

    async def close(self) -> None:
        """Forget the cached keys."""
        self._cache.clear()
