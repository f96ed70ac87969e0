"""Server settings: CLI flags override `CANDLEWIRE_*` environment variables, which override defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from candlewire.errors import InvalidArgument

DEFAULT_TOKEN_TTL_SECONDS = 7 * 24 * 3600

_ENV_NAMES = {
    "data_dir": "CANDLEWIRE_DATA_DIR",
    "grpc_host": "CANDLEWIRE_GRPC_HOST",
    "grpc_port": "CANDLEWIRE_GRPC_PORT",
    "gateway_host": "CANDLEWIRE_GATEWAY_HOST",
    "gateway_port": "CANDLEWIRE_GATEWAY_PORT",
    "database_url": "CANDLEWIRE_DATABASE_URL",
    "max_concurrent_jobs": "CANDLEWIRE_MAX_JOBS",
    "password": "CANDLEWIRE_PASSWORD",
    "enable_test_jobs": "CANDLEWIRE_ENABLE_TEST_JOBS",
}


def _default_max_jobs() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./candlewire-data")
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    # Empty means "SQLite inside data_dir"; resolved in __post_init__ so it follows data_dir.
    database_url: str = ""
    max_concurrent_jobs: int = field(default_factory=_default_max_jobs)
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
    password: str | None = None
    enable_test_jobs: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'candlewire.db'}")
        if self.max_concurrent_jobs < 1:
            raise InvalidArgument(
                "max_concurrent_jobs must be at least 1",
                {"max_concurrent_jobs": "must be at least 1"},
            )

    @classmethod
    def from_env(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> "Settings":
        """Build settings from the environment; a non-None value in `overrides` wins over it."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, env_name in _ENV_NAMES.items():
            raw = environ.get(env_name)
            if raw not in (None, ""):
                values[name] = _parse(name, env_name, raw)
        for name, value in (overrides or {}).items():
            if name not in cls.__dataclass_fields__:
                raise InvalidArgument(f"unknown setting {name!r}", {name: "unknown setting"})
            if value is not None:
                values[name] = value
        return cls(**values)


def _parse(name: str, env_name: str, raw: str) -> Any:
    if name == "data_dir":
        return Path(raw)
    if name in ("grpc_port", "gateway_port", "max_concurrent_jobs"):
        try:
            return int(raw)
        except ValueError:
            raise InvalidArgument(f"{env_name} must be an integer", {env_name: "not an integer"}) from None
    if name == "enable_test_jobs":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return raw
