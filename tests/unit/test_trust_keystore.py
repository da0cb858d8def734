"""Key custody: the same tests against encrypted software keys and SoftHSM2 (PKCS#11)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from asn1crypto import algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from hoso.common.errors import NotFound, Unavailable
from hoso.signing.keystore.api import KeyAlgorithm, KeyStore, verify_signature
from hoso.signing.keystore.pkcs11 import Pkcs11KeyStore
from hoso.signing.keystore.software import SoftwareKeyStore

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
async def test_generated_key_signs_verifiably(keystore: KeyStore, algorithm: KeyAlgorithm) -> None:
    handle = await keystore.generate(algorithm, "Nguyễn Văn A")
    assert handle.algorithm is algorithm
    data = "Quyết định số 12/QĐ-UBND".encode()
    for digest in ("sha256", "sha384"):
        signature = await handle.sign(data, digest_algorithm=digest)
        verify_signature(handle.public_key, signature, data, digest)
        with pytest.raises(InvalidSignature):
            verify_signature(handle.public_key, signature, data + b"x", digest)
    prehashed = await handle.sign_digest(hashlib.sha256(data).digest())
    verify_signature(handle.public_key, prehashed, data)


async def test_signature_algorithm_describes_scheme(keystore: KeyStore) -> None:
    rsa_handle = await keystore.generate(KeyAlgorithm.RSA_2048, "rsa")
    described = rsa_handle.signature_algorithm("sha384")
    assert described["algorithm"].native == "rsassa_pss"
    params = described["parameters"]
    assert isinstance(params, algos.RSASSAPSSParams)
    assert params["hash_algorithm"]["algorithm"].native == "sha384"
    assert params["mask_gen_algorithm"]["parameters"]["algorithm"].native == "sha384"
    assert params["salt_length"].native == 48
    ec_handle = await keystore.generate(KeyAlgorithm.EC_P384, "ec")
    assert ec_handle.signature_algorithm()["algorithm"].native == "sha256_ecdsa"


async def test_get_returns_same_key(keystore: KeyStore) -> None:
    handle = await keystore.generate(KeyAlgorithm.EC_P256, "seal")
    again = await keystore.get(handle.key_id)
    assert again.key_id == handle.key_id
    assert again.algorithm is KeyAlgorithm.EC_P256
    signature = await again.sign(b"data")
    verify_signature(handle.public_key, signature, b"data")


async def test_unknown_key_is_not_found(keystore: KeyStore) -> None:
    with pytest.raises(NotFound):
        await keystore.get("sw-00000000000000000000")
    with pytest.raises(NotFound):
        await keystore.get("hsm-00000000000000000000")


async def test_weak_digest_refused(keystore: KeyStore) -> None:
    handle = await keystore.generate(KeyAlgorithm.EC_P256, "x")
    with pytest.raises(ValueError, match="sha256"):
        await handle.sign(b"data", digest_algorithm="sha1")
    with pytest.raises(ValueError, match="32 bytes"):
        await handle.sign_digest(b"short")


async def test_software_keys_encrypted_at_rest_and_cached(tmp_path: Path) -> None:
    store = SoftwareKeyStore(tmp_path, "mật khẩu")
    handle = await store.generate(KeyAlgorithm.RSA_2048, "k")
    pem = (tmp_path / f"{handle.key_id}.p8").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, None)
    # A fresh store loads the file once and then reuses the decrypted key.
    reopened = SoftwareKeyStore(tmp_path, "mật khẩu")
    first = await reopened.get(handle.key_id)
    assert await reopened.get(handle.key_id) is first
    verify_signature(handle.public_key, await first.sign(b"d"), b"d")
    wrong = SoftwareKeyStore(tmp_path, "wrong")
    with pytest.raises(Unavailable, match="passphrase"):
        await wrong.get(handle.key_id)


async def test_pkcs11_keys_are_not_extractable(softhsm_token) -> None:  # type: ignore[no-untyped-def]
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    store = Pkcs11KeyStore(
        softhsm_token.module, token_label=softhsm_token.label, user_pin=softhsm_token.user_pin
    )
    handle = await store.generate(KeyAlgorithm.EC_P256, "non-extractable")

    def attributes(session):  # type: ignore[no-untyped-def]
        key = session.get_key(
            object_class=ObjectClass.PRIVATE_KEY, id=bytes.fromhex(handle.key_id[4:])
        )
        try:
            key[Attribute.VALUE]
        except pkcs11.AttributeSensitive:
            leaked = False
        else:
            leaked = True
        return key[Attribute.SENSITIVE], key[Attribute.EXTRACTABLE], leaked

    sensitive, extractable, leaked = await store._call(attributes)
    assert (sensitive, extractable, leaked) == (True, False, False)
    await store.close()


async def test_pkcs11_unreachable_token_is_unavailable(softhsm_token) -> None:  # type: ignore[no-untyped-def]
    store = Pkcs11KeyStore(softhsm_token.module, token_label="no-such-token", user_pin="1")
    with pytest.raises(Unavailable) as caught:
        await store.generate(KeyAlgorithm.EC_P256, "x")
    assert caught.value.retryable
    assert "no-such-token" in caught.value.message


async def test_embedded_passphrase_is_created_once_and_shared(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    from hoso.signing.keystore.factory import _embedded_passphrase

    directory = tmp_path / "keys"
    with ThreadPoolExecutor(8) as pool:
        passphrases = set(pool.map(lambda _: _embedded_passphrase(directory), range(8)))
    assert len(passphrases) == 1 and len(passphrases.pop()) >= 32
    assert [p.name for p in directory.iterdir()] == ["passphrase"]  # no drafts left behind
    assert (directory / "passphrase").stat().st_mode & 0o077 == 0
