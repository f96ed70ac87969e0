"""Encryption of stored secrets (exchange API keys, notification credentials) with Fernet."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from candlewire.errors import FailedPrecondition

SECRET_KEY_ENV = "CANDLEWIRE_SECRET_KEY"
SECRET_KEY_FILE = "secret.key"
_MASK = "…"
_MASK_KEEP = 4


class SecretBox:
    """Encrypts JSON-serialisable dicts; every secret at rest goes through one of these."""

    def __init__(self, key: bytes | str):
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise FailedPrecondition(
                f"the secret key is not a valid Fernet key (32 url-safe base64-encoded bytes); check {SECRET_KEY_ENV}"
            ) from None

    @classmethod
    def from_environment(cls, data_dir: Path | str) -> "SecretBox":
        """Key from `CANDLEWIRE_SECRET_KEY`, else `<data_dir>/secret.key` (generated on first use)."""
        key = os.environ.get(SECRET_KEY_ENV, "").strip()
        if key:
            return cls(key)
        return cls(_load_or_create_key_file(Path(data_dir) / SECRET_KEY_FILE))

    def encrypt(self, payload: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode())

    def decrypt(self, token: bytes) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(bytes(token)))
        except InvalidToken:
            raise FailedPrecondition(
                "a stored secret cannot be decrypted: the secret key differs from the one it was saved with"
            ) from None


def _load_or_create_key_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(Fernet.generate_key())
    try:
        # link() publishes the complete file atomically and fails if another process won the race.
        os.link(staging, path)
    except FileExistsError:
        pass
    finally:
        staging.unlink()
    return path.read_bytes().strip()


def mask(secret: str) -> str:
    """Enough of a secret to recognise it, never enough to use it."""
    if len(secret) <= 3 * _MASK_KEEP:
        return _MASK * 3 if secret else ""
    return f"{secret[:_MASK_KEEP]}{_MASK}{secret[-_MASK_KEEP:]}"
