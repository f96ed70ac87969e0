"""Exchange API keys, encrypted at rest with the server's SecretBox.

Exporting and importing hand out or accept plaintext secrets: the API layer must re-check the
admin password before calling `export` or `import_`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

import sqlalchemy as sa

from candlewire.crypto import SecretBox, mask
from candlewire.data.exchanges import get_exchange
from candlewire.errors import AlreadyExists, InvalidArgument, NotFound, require
from candlewire.storage.models import ApiKey, new_id

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")
_table = ApiKey.__table__


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    name: str
    exchange: str
    api_key: str
    api_secret: str
    passphrase: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    def masked(self) -> "ApiKeyRecord":
        return ApiKeyRecord(
            id=self.id,
            name=self.name,
            exchange=self.exchange,
            api_key=mask(self.api_key),
            api_secret=mask(self.api_secret),
            passphrase=mask(self.passphrase) if self.passphrase else None,
            extra=self.extra,
            created_at=self.created_at,
        )

    def to_export(self) -> dict[str, Any]:
        """The JSON-ready form `import_` accepts back."""
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat() if self.created_at else None
        return out


class ApiKeyVault:
    def __init__(self, engine: sa.Engine, box: SecretBox):
        self._engine = engine
        self._box = box

    def create(
        self,
        name: str,
        exchange: str,
        api_key: str,
        api_secret: str,
        passphrase: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ApiKeyRecord:
        """Store a key; returns it masked."""
        record = _new_record(name, exchange, api_key, api_secret, passphrase, extra)
        self._insert([record])
        return record.masked()

    def list(self) -> list[ApiKeyRecord]:
        return [record.masked() for record in self._records()]

    def get(self, key_id: str) -> ApiKeyRecord:
        """The full record, for code that signs exchange requests (live trading)."""
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(_table).where(_table.c.id == key_id)).first()
        if row is None:
            raise NotFound(f"API key {key_id!r} not found")
        return self._decode(row)

    def delete(self, key_id: str) -> None:
        with self._engine.begin() as connection:
            if connection.execute(sa.delete(_table).where(_table.c.id == key_id)).rowcount == 0:
                raise NotFound(f"API key {key_id!r} not found")

    def export(self) -> list[dict[str, Any]]:
        """Every key in plaintext (see the module docstring about the password check)."""
        return [record.to_export() for record in self._records()]

    def import_(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Store exported records whose names are not taken yet; return how many were stored.

        A batch is checked whole first (nothing is stored if any record is invalid). Records get
        new ids: an export from another server must not collide with local ids.
        """
        parsed = [_parse_import(index, record) for index, record in enumerate(records)]
        names = [record.name for record in parsed]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise InvalidArgument("duplicate names", {"records": f"names appear more than once: {', '.join(duplicates)}"})
        return self._insert(parsed, skip_taken=True)

    def _insert(self, records: list[ApiKeyRecord], skip_taken: bool = False) -> int:
        try:
            with self._engine.begin() as connection:
                taken = set(
                    connection.scalars(sa.select(_table.c.name).where(_table.c.name.in_([r.name for r in records])))
                )
                if taken and not skip_taken:
                    raise AlreadyExists(f"API key names already in use: {', '.join(sorted(taken))}")
                fresh = [record for record in records if record.name not in taken]
                if fresh:
                    connection.execute(sa.insert(_table), [self._row(record) for record in fresh])
        except sa.exc.IntegrityError:
            # A concurrent create took a name between the check and the insert.
            raise AlreadyExists("API key names already in use") from None
        return len(fresh)

    def _records(self) -> list[ApiKeyRecord]:
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(_table).order_by(_table.c.name)).all()
        return [self._decode(row) for row in rows]

    def _row(self, record: ApiKeyRecord) -> dict[str, Any]:
        secrets = {
            "api_key": record.api_key,
            "api_secret": record.api_secret,
            "passphrase": record.passphrase,
            "extra": record.extra,
        }
        return {
            "id": record.id,
            "name": record.name,
            "exchange": record.exchange,
            "encrypted_payload": self._box.encrypt(secrets),
            "created_at": record.created_at,
        }

    def _decode(self, row: sa.Row[Any]) -> ApiKeyRecord:
        secrets = self._box.decrypt(row.encrypted_payload)
        return ApiKeyRecord(
            id=row.id,
            name=row.name,
            exchange=row.exchange,
            api_key=secrets["api_key"],
            api_secret=secrets["api_secret"],
            passphrase=secrets.get("passphrase"),
            extra=secrets.get("extra") or {},
            created_at=row.created_at,
        )


def _new_record(
    name: str,
    exchange: str,
    api_key: str,
    api_secret: str,
    passphrase: str | None,
    extra: Mapping[str, Any] | None,
    field_prefix: str = "",
) -> ApiKeyRecord:
    violations: dict[str, str] = {}
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        violations[f"{field_prefix}name"] = "must start with a letter or _ and hold only letters, digits, _ and - (max 100)"
    try:
        get_exchange(exchange)
    except NotFound:
        violations[f"{field_prefix}exchange"] = f"unknown exchange {exchange!r}"
    for field_name, value in (("api_key", api_key), ("api_secret", api_secret)):
        if not isinstance(value, str) or not value.strip():
            violations[f"{field_prefix}{field_name}"] = "must not be empty"
    if passphrase is not None and not isinstance(passphrase, str):
        violations[f"{field_prefix}passphrase"] = "must be a string"
    if extra is not None and not isinstance(extra, Mapping):
        violations[f"{field_prefix}extra"] = "must be an object"
    require(violations, "invalid API key")
    return ApiKeyRecord(
        id=new_id(),
        name=name,
        exchange=exchange,
        api_key=api_key.strip(),
        api_secret=api_secret.strip(),
        passphrase=passphrase or None,
        extra=dict(extra or {}),
        created_at=datetime.now(timezone.utc),
    )


def _parse_import(index: int, record: Mapping[str, Any]) -> ApiKeyRecord:
    if not isinstance(record, Mapping):
        raise InvalidArgument("invalid import", {f"records[{index}]": "must be an object"})
    return _new_record(
        record.get("name"),  # type: ignore[arg-type]
        record.get("exchange"),  # type: ignore[arg-type]
        record.get("api_key"),  # type: ignore[arg-type]
        record.get("api_secret"),  # type: ignore[arg-type]
        record.get("passphrase"),
        record.get("extra"),
        field_prefix=f"records[{index}].",
    )
