"""PKCS#11 keys: generated on a token (SoftHSM2 in tests, a real HSM in production).

Keys are created with ``CKA_SENSITIVE`` and without ``CKA_EXTRACTABLE``: the private key never
leaves the token. SoftHSM 2.6 lacks the combined hash-and-sign mechanisms for ECDSA, so every
signature is computed over a digest made in Python: raw ``CKM_ECDSA`` (whose ``r || s`` output is
DER-encoded here) and ``CKM_RSA_PKCS_PSS`` with explicit parameters over the prehash.

PKCS#11 calls block, so they run in a worker thread (``asyncio.to_thread``); one session is
shared and serialised by a lock, because a PKCS#11 session must not be used by two threads at
once. Any failure to reach the token surfaces as :class:`hoso.common.errors.Unavailable`, which
callers may retry; the next call reopens the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pkcs11
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives.serialization import load_der_public_key
from hoso.common.errors import NotFound, Unavailable
from hoso.signing.keystore.api import (
    DIGEST_ALGORITHMS,
    KeyAlgorithm,
    KeyHandle,
    KeyStore,
    PublicKey,
    algorithm_of_public_key,
)
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import (
    encode_ec_public_key,
    encode_ecdsa_signature,
    encode_named_curve_parameters,
)
from pkcs11.util.rsa import encode_rsa_public_key

__all__ = ["DEFAULT_SOFTHSM_MODULE", "Pkcs11KeyHandle", "Pkcs11KeyStore"]

DEFAULT_SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
_KEY_ID_PREFIX = "hsm-"
_PSS_PARAMS: dict[str, tuple[Mechanism, MGF, int]] = {
    "sha256": (Mechanism.SHA256, MGF.SHA256, DIGEST_ALGORITHMS["sha256"]),
    "sha384": (Mechanism.SHA384, MGF.SHA384, DIGEST_ALGORITHMS["sha384"]),
    "sha512": (Mechanism.SHA512, MGF.SHA512, DIGEST_ALGORITHMS["sha512"]),
}
_T = TypeVar("_T")

# Errors that mean "the token or session is gone", as opposed to a wrong argument.
_UNREACHABLE = (
    pkcs11.DeviceError,
    pkcs11.DeviceRemoved,
    pkcs11.DeviceMemory,
    pkcs11.TokenNotPresent,
    pkcs11.TokenNotRecognised,
    pkcs11.NoSuchToken,
    pkcs11.SessionClosed,
    pkcs11.SessionHandleInvalid,
    pkcs11.SessionCount,
    pkcs11.UserNotLoggedIn,
    pkcs11.PinIncorrect,
    pkcs11.PinLocked,
    pkcs11.GeneralError,
    pkcs11.FunctionFailed,
    pkcs11.HostMemory,
)


def _public_key_of(public: Any) -> PublicKey:
    if public.key_type == KeyType.RSA:
        pkcs1 = asn1_keys.RSAPublicKey.load(encode_rsa_public_key(public))
        spki = asn1_keys.PublicKeyInfo(
            {"algorithm": {"algorithm": "rsa"}, "public_key": pkcs1}
        ).dump()
    else:
        spki = encode_ec_public_key(public)
    key = load_der_public_key(spki)
    assert not isinstance(key, str)
    return key  # type: ignore[return-value]


class Pkcs11KeyHandle(KeyHandle):
    """A private key object on the token."""

    def __init__(self, store: Pkcs11KeyStore, key_id: str, public_key: PublicKey) -> None:
        self.key_id = key_id
        self.public_key = public_key
        self.algorithm = algorithm_of_public_key(public_key)
        self._store = store

    async def _sign_digest(self, digest: bytes, digest_algorithm: str) -> bytes:
        return await self._store._call(self._sign_blocking, digest, digest_algorithm)

    def _sign_blocking(self, session: Any, digest: bytes, digest_algorithm: str) -> bytes:
        private = session.get_key(
            object_class=ObjectClass.PRIVATE_KEY, id=bytes.fromhex(self.key_id[4:])
        )
        if self.algorithm.is_rsa:
            return bytes(
                private.sign(
                    digest,
                    mechanism=Mechanism.RSA_PKCS_PSS,
                    mechanism_param=_PSS_PARAMS[digest_algorithm],
                )
            )
        return bytes(encode_ecdsa_signature(private.sign(digest, mechanism=Mechanism.ECDSA)))


class Pkcs11KeyStore(KeyStore):
    """Keys on one PKCS#11 token, found by its label.

    Args:
        module_path: the PKCS#11 library (SoftHSM2: ``/usr/lib/softhsm/libsofthsm2.so``).
        token_label: the token's label (``softhsm2-util --init-token --label``).
        user_pin: the token's user PIN.
    """

    def __init__(
        self, module_path: str = DEFAULT_SOFTHSM_MODULE, *, token_label: str, user_pin: str
    ) -> None:
        self._module_path = module_path
        self._token_label = token_label
        self._user_pin = user_pin
        self._session: Any = None
        self._lock = threading.Lock()

    def _open(self) -> Any:
        if self._session is None:
            try:
                lib = pkcs11.lib(self._module_path)
                token = lib.get_token(token_label=self._token_label)
                self._session = token.open(rw=True, user_pin=self._user_pin)
            except (*_UNREACHABLE, OSError, RuntimeError) as e:
                raise Unavailable(
                    f"cannot open PKCS#11 token {self._token_label!r} via {self._module_path}: "
                    f"{type(e).__name__}; check the module path, token label and PIN"
                ) from e
        return self._session

    def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._lock:
            session = self._open()
            try:
                return fn(session, *args)
            except _UNREACHABLE as e:
                self._drop_session()
                raise Unavailable(f"PKCS#11 token unavailable: {type(e).__name__}") from e

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            # Already gone when the token vanished; nothing more to release.
            with contextlib.suppress(pkcs11.PKCS11Error):
                session.close()

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.to_thread(self._run, fn, *args)

    async def generate(self, algorithm: KeyAlgorithm, label: str) -> Pkcs11KeyHandle:
        """Generate a sensitive, non-extractable key pair on the token."""
        key_id = _KEY_ID_PREFIX + secrets.token_hex(10)
        public = await self._call(self._generate_blocking, algorithm, label, key_id)
        return Pkcs11KeyHandle(self, key_id, public)

    @staticmethod
    def _generate_blocking(
        session: Any, algorithm: KeyAlgorithm, label: str, key_id: str
    ) -> PublicKey:
        object_id = bytes.fromhex(key_id[len(_KEY_ID_PREFIX) :])
        private_template = {
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
        }
        if algorithm.is_rsa:
            public, _ = session.generate_keypair(
                KeyType.RSA,
                algorithm.rsa_bits,
                store=True,
                label=label,
                id=object_id,
                private_template=private_template,
            )
        else:
            params = session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters(algorithm.curve_name)},
                local=True,
            )
            public, _ = params.generate_keypair(
                store=True, label=label, id=object_id, private_template=private_template
            )
        return _public_key_of(public)

    async def get(self, key_id: str) -> Pkcs11KeyHandle:
        """Find a key pair on the token by its handle's ``key_id``."""
        if not key_id.startswith(_KEY_ID_PREFIX):
            raise NotFound(f"no key {key_id!r} on the PKCS#11 token (ids start with 'hsm-')")
        try:
            object_id = bytes.fromhex(key_id[len(_KEY_ID_PREFIX) :])
        except ValueError as e:
            raise NotFound(f"no key {key_id!r} on the PKCS#11 token") from e
        public = await self._call(self._find_blocking, object_id, key_id)
        return Pkcs11KeyHandle(self, key_id, public)

    @staticmethod
    def _find_blocking(session: Any, object_id: bytes, key_id: str) -> PublicKey:
        try:
            session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=object_id)
            public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=object_id)
        except pkcs11.NoSuchKey as e:
            raise NotFound(f"no key {key_id!r} on the PKCS#11 token") from e
        return _public_key_of(public)

    async def close(self) -> None:
        """Close the session (the library stays loaded for the process)."""
        await asyncio.to_thread(self._close_blocking)

    def _close_blocking(self) -> None:
        with self._lock:
            self._drop_session()
