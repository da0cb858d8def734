"""Open the key store chosen by the settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hoso.signing.keystore.api import KeyStore
from hoso.signing.settings import KeyStoreKind, SigningSettings

__all__ = ["open_keystore"]


def _embedded_passphrase(directory: Path) -> str:
    """Read, or create once, the passphrase file of the embedded default."""
    path = directory / "passphrase"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written aside then linked into place: a process starting at the same moment either
        # wins the link or reads the winner's complete file, never a half-written one.
        draft = directory / f".passphrase-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        finally:
            draft.unlink()
    return path.read_text().strip()


def open_keystore(settings: SigningSettings, data_dir: Path) -> KeyStore:
    """The key store the settings choose. The caller owns it and closes it."""
    if settings.key_store is KeyStoreKind.PKCS11:
        from hoso.signing.keystore.pkcs11 import Pkcs11KeyStore

        assert settings.pkcs11_user_pin is not None  # enforced by the settings validator
        return Pkcs11KeyStore(
            settings.pkcs11_module,
            token_label=settings.pkcs11_token_label,
            user_pin=settings.pkcs11_user_pin.get_secret_value(),
        )
    from hoso.signing.keystore.software import SoftwareKeyStore

    directory = settings.key_directory or data_dir / "keys"
    passphrase = (
        settings.key_passphrase.get_secret_value()
        if settings.key_passphrase is not None
        else _embedded_passphrase(directory)
    )
    return SoftwareKeyStore(directory, passphrase)
