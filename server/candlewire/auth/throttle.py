"""Failed-login throttling: each client gets a few free attempts, then exponential waits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

FREE_FAILURES = 5
BASE_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 300.0
FORGET_AFTER_SECONDS = 900.0


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last_failure: float = field(default_factory=time.monotonic)


class LoginThrottle:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._records: dict[str, _Record] = {}

    def retry_after(self, client: str) -> float:
        """Seconds the client must still wait before its next attempt (0 when free)."""
        record = self._records.get(client)
        if record is None:
            return 0.0
        now = self._clock()
        if now - record.last_failure > FORGET_AFTER_SECONDS:
            del self._records[client]
            return 0.0
        return max(0.0, record.blocked_until - now)

    def failed(self, client: str) -> None:
        now = self._clock()
        record = self._records.setdefault(client, _Record())
        record.failures += 1
        record.last_failure = now
        excess = record.failures - FREE_FAILURES
        if excess >= 0:
            record.blocked_until = now + min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2**excess)

    def succeeded(self, client: str) -> None:
        self._records.pop(client, None)
