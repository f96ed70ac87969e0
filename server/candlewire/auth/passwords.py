"""The admin password: from CANDLEWIRE_PASSWORD, or generated once and kept hashed."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
PASSWORD_FILE = "password.json"


@dataclass(frozen=True)
class PasswordHash:
    salt: bytes
    digest: bytes

    @classmethod
    def of(cls, password: str) -> "PasswordHash":
        salt = secrets.token_bytes(16)
        return cls(salt, _scrypt(password, salt))

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(_scrypt(password, self.salt), self.digest)


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT, dklen=32)


def load_or_create(data_dir: Path, env_password: str | None) -> tuple[PasswordHash, str | None]:
    """The password hash to check logins against, and the password if it was just generated.

    An env password always wins and is never written to disk; a generated one is written
    hashed (mode 0600) and returned once so the caller can print it.
    """
    if env_password:
        return PasswordHash.of(env_password), None
    path = data_dir / PASSWORD_FILE
    if path.exists():
        stored = json.loads(path.read_text())
        return PasswordHash(bytes.fromhex(stored["salt"]), bytes.fromhex(stored["digest"])), None
    generated = secrets.token_urlsafe(18)
    hashed = PasswordHash.of(generated)
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"salt": hashed.salt.hex(), "digest": hashed.digest.hex()}, f)
    os.replace(tmp, path)
    return hashed, generated
