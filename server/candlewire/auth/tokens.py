"""Bearer tokens: random, stored only as SHA-256 hashes, expiring and revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from candlewire.storage.db import session_scope
from candlewire.storage.models import AuthToken

# Checking a token hits the database at most this often per token, so revocation by another
# server process sharing the database takes effect within this many seconds.
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, engine: sa.Engine, ttl_seconds: int):
        self._engine = engine
        self._ttl = timedelta(seconds=ttl_seconds)
        self._valid_until: dict[str, tuple[float, datetime]] = {}

    def issue(self) -> IssuedToken:
        token = secrets.token_urlsafe(32)
        expires_at = datetime.now(timezone.utc) + self._ttl
        with session_scope(self._engine) as db:
            db.add(AuthToken(token_hash=_hash(token), expires_at=expires_at))
        return IssuedToken(token, expires_at)

    def is_known_valid(self, token: str) -> bool:
        """True when a recent database check vouches for the token (no I/O)."""
        cached = self._valid_until.get(_hash(token))
        return bool(cached and cached[0] > time.monotonic() and cached[1] > datetime.now(timezone.utc))

    def is_valid(self, token: str) -> bool:
        if self.is_known_valid(token):
            return True
        digest = _hash(token)
        now = datetime.now(timezone.utc)
        with session_scope(self._engine) as db:
            row = db.scalar(sa.select(AuthToken).where(AuthToken.token_hash == digest))
            valid = (
                row is not None
                and hmac.compare_digest(row.token_hash, digest)
                and row.revoked_at is None
                and row.expires_at > now
            )
            if valid:
                self._valid_until[digest] = (time.monotonic() + CACHE_SECONDS, row.expires_at)
        return valid

    def revoke(self, token: str) -> None:
        digest = _hash(token)
        self._valid_until.pop(digest, None)
        with session_scope(self._engine) as db:
            db.execute(
                sa.update(AuthToken)
                .where(AuthToken.token_hash == digest, AuthToken.revoked_at.is_(None))
                .values(revoked_at=datetime.now(timezone.utc))
            )
