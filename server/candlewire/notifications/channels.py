"""Notification channel definitions and their repository over `notification_channels`.

Every type-specific field (tokens, chat ids, webhook URLs, which embed credentials) is encrypted;
`settings` holds the caller's non-secret preferences and is stored as plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import urlsplit

import sqlalchemy as sa

from candlewire.crypto import SecretBox, mask
from candlewire.errors import AlreadyExists, NotFound, require
from candlewire.storage.models import NotificationChannel as ChannelRow
from candlewire.storage.models import new_id

CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "telegram": ("bot_token", "chat_id"),
    "discord": ("url",),
    "slack": ("url",),
    "webhook": ("url",),
}
MAX_NAME_LENGTH = 200
_table = ChannelRow.__table__


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    type: str
    config: dict[str, str]
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    def masked(self) -> "Channel":
        return Channel(self.id, self.name, self.type, mask_config(self.type, self.config), self.settings, self.created_at)


def mask_config(channel_type: str, config: Mapping[str, str]) -> dict[str, str]:
    if channel_type == "telegram":
        return {"bot_token": mask(config["bot_token"]), "chat_id": config["chat_id"]}
    return {"url": mask_url(config["url"])}


def mask_url(url: str) -> str:
    """Scheme and host stay readable; the path (where webhook tokens live) is masked."""
    parts = urlsplit(url)
    rest = url[len(f"{parts.scheme}://{parts.netloc}") :]
    # netloc may carry user:password@, so only host and port are shown.
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return f"{parts.scheme}://{host}{mask(rest) if rest.strip('/') else ''}"


def validate_channel(name: str, channel_type: str, config: Mapping[str, Any], settings: Any = None) -> dict[str, str]:
    """Raise InvalidArgument naming every bad field; return the cleaned config."""
    violations: dict[str, str] = {}
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        violations["name"] = f"must be 1 to {MAX_NAME_LENGTH} characters"
    if settings is not None and not isinstance(settings, Mapping):
        violations["settings"] = "must be an object"
    required = CHANNEL_FIELDS.get(channel_type)
    if required is None:
        violations["type"] = f"must be one of {', '.join(CHANNEL_FIELDS)}"
    if not isinstance(config, Mapping):
        violations["config"] = "must be an object"
    if required is None or "config" in violations:
        require(violations, "invalid notification channel")
    cleaned: dict[str, str] = {}
    for field_name in required:
        value = config.get(field_name)
        value = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        if not value:
            violations[f"config.{field_name}"] = f"required for {channel_type} channels"
        cleaned[field_name] = value
    if cleaned.get("url") and not _is_http_url(cleaned["url"]):
        violations["config.url"] = "must be an http:// or https:// URL with a host"
    if cleaned.get("bot_token") and ("/" in cleaned["bot_token"] or any(c.isspace() for c in cleaned["bot_token"])):
        violations["config.bot_token"] = "must not contain '/' or spaces"
    unknown = sorted(set(config) - set(required))
    for field_name in unknown:
        violations[f"config.{field_name}"] = f"not a {channel_type} channel field"
    require(violations, "invalid notification channel")
    return cleaned


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    try:
        parts.port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class ChannelRepository:
    def __init__(self, engine: sa.Engine, box: SecretBox):
        self._engine = engine
        self._box = box

    def create(
        self, name: str, channel_type: str, config: Mapping[str, Any], settings: Mapping[str, Any] | None = None
    ) -> Channel:
        """Store a channel; returns it masked."""
        cleaned = validate_channel(name, channel_type, config, settings)
        channel = Channel(
            id=new_id(),
            name=name.strip(),
            type=channel_type,
            config=cleaned,
            settings=dict(settings or {}),
            created_at=datetime.now(timezone.utc),
        )
        row = {
            "id": channel.id,
            "name": channel.name,
            "type": channel.type,
            "encrypted_payload": self._box.encrypt(channel.config),
            "settings": channel.settings,
            "created_at": channel.created_at,
        }
        try:
            with self._engine.begin() as connection:
                if connection.scalar(sa.select(_table.c.id).where(_table.c.name == channel.name)) is not None:
                    raise AlreadyExists(f"notification channel {channel.name!r} already exists")
                connection.execute(sa.insert(_table), [row])
        except sa.exc.IntegrityError:
            raise AlreadyExists(f"notification channel {channel.name!r} already exists") from None
        return channel.masked()

    def get(self, channel_id: str) -> Channel:
        """The full channel, secrets included, for delivery."""
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(_table).where(_table.c.id == channel_id)).first()
        if row is None:
            raise NotFound(f"notification channel {channel_id!r} not found")
        return self._decode(row)

    def list(self) -> list[Channel]:
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(_table).order_by(_table.c.name)).all()
        return [self._decode(row).masked() for row in rows]

    def delete(self, channel_id: str) -> None:
        with self._engine.begin() as connection:
            if connection.execute(sa.delete(_table).where(_table.c.id == channel_id)).rowcount == 0:
                raise NotFound(f"notification channel {channel_id!r} not found")

    def _decode(self, row: sa.Row[Any]) -> Channel:
        return Channel(
            id=row.id,
            name=row.name,
            type=row.type,
            config=self._box.decrypt(row.encrypted_payload),
            settings=dict(row.settings or {}),
            created_at=row.created_at,
        )
