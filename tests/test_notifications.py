"""Notification channels: stored encrypted, delivered by the real httpx client to a local stand-in server."""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from candlewire.crypto import SECRET_KEY_ENV, SecretBox
from candlewire.errors import AlreadyExists, InvalidArgument, NotFound
from candlewire.notifications.channels import ChannelRepository, mask_url
from candlewire.notifications.delivery import TELEGRAM_API_URL_ENV, send
from candlewire.storage.db import create_engine, migrate
from fake_webhooks import FakeWebhooks

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def engine(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'candlewire.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def channels(engine, tmp_path, monkeypatch) -> ChannelRepository:
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    return ChannelRepository(engine, SecretBox.from_environment(tmp_path))


@pytest.fixture
def webhooks(monkeypatch):
    with FakeWebhooks() as fake:
        monkeypatch.setenv(TELEGRAM_API_URL_ENV, fake.base_url)
        yield fake


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_telegram_posts_send_message(channels, webhooks):
    created = channels.create("ops", "telegram", {"bot_token": BOT_TOKEN, "chat_id": -1001234})
    result = send(channels.get(created.id), "BTC long opened")
    assert result.delivered and result.http_status == 200
    [post] = webhooks.posts
    assert post.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert post.headers["content-type"] == "application/json"
    assert post.body == {"chat_id": "-1001234", "text": "BTC long opened"}


def test_discord_posts_content(channels, webhooks):
    created = channels.create("d", "discord", {"url": f"{webhooks.base_url}/api/webhooks/42/tok3n"})
    result = send(channels.get(created.id), "hello discord")
    assert (result.delivered, result.http_status) == (True, 204)
    assert [(p.path, p.body) for p in webhooks.posts] == [("/api/webhooks/42/tok3n", {"content": "hello discord"})]


def test_slack_posts_text(channels, webhooks):
    created = channels.create("s", "slack", {"url": f"{webhooks.base_url}/services/T0/B0/XXXX"})
    assert send(channels.get(created.id), "hello slack").delivered
    assert webhooks.posts[0].body == {"text": "hello slack"}


def test_generic_webhook_posts_event_text_and_time(channels, webhooks):
    created = channels.create("w", "webhook", {"url": f"{webhooks.base_url}/hooks/candlewire"})
    assert send(channels.get(created.id), "session finished", event="session.succeeded").delivered
    body = webhooks.posts[0].body
    assert body["event"] == "session.succeeded" and body["text"] == "session finished"
    assert datetime.fromisoformat(body["time"]).tzinfo is not None


def test_remote_errors_are_reported_not_raised(channels, webhooks):
    telegram = channels.get(channels.create("t", "telegram", {"bot_token": BOT_TOKEN, "chat_id": "1"}).id)
    webhooks.fail_with(400, '{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}')
    result = send(telegram, "x")
    assert (result.delivered, result.http_status) == (False, 400)
    assert "chat not found" in result.detail

    slack = channels.get(channels.create("s", "slack", {"url": f"{webhooks.base_url}/services/x"}).id)
    webhooks.fail_with(500, "internal error")
    result = send(slack, "x")
    assert (result.delivered, result.http_status) == (False, 500)
    assert "internal error" in result.detail


def test_unreachable_url_is_not_delivered(channels):
    created = channels.create("dead", "webhook", {"url": f"http://127.0.0.1:{_closed_port()}/hook"})
    result = send(channels.get(created.id), "x")
    assert result.delivered is False and result.http_status == 0
    assert "ConnectError" in result.detail


def test_secrets_are_encrypted_and_masked(channels, engine, webhooks):
    url = f"{webhooks.base_url}/api/webhooks/42/very-secret-webhook-token"
    channels.create("d", "discord", {"url": url}, settings={"events": ["live"]})
    channels.create("t", "telegram", {"bot_token": BOT_TOKEN, "chat_id": "777"})
    with engine.connect() as connection:
        payloads = [bytes(row[0]) for row in connection.execute(sa.text("SELECT encrypted_payload FROM notification_channels"))]
    assert not any(b"very-secret-webhook-token" in p or BOT_TOKEN.encode() in p for p in payloads)

    listed = {channel.name: channel for channel in channels.list()}
    assert "very-secret-webhook-token" not in listed["d"].config["url"]
    assert listed["d"].config["url"].startswith(webhooks.base_url + "/api…")
    assert listed["d"].settings == {"events": ["live"]}
    assert BOT_TOKEN not in listed["t"].config["bot_token"] and listed["t"].config["chat_id"] == "777"


def test_validation(channels):
    with pytest.raises(InvalidArgument) as caught:
        channels.create("", "discord", {"url": "ftp://example.com/x", "colour": "red"})
    assert set(caught.value.violations) == {"name", "config.url", "config.colour"}
    with pytest.raises(InvalidArgument) as caught:
        channels.create("t", "telegram", {"bot_token": ""})
    assert set(caught.value.violations) == {"config.bot_token", "config.chat_id"}
    with pytest.raises(InvalidArgument) as caught:
        channels.create("x", "pager", {})
    assert set(caught.value.violations) == {"type"}
    channels.create("one", "slack", {"url": "https://hooks.slack.com/services/A/B/C"})
    with pytest.raises(AlreadyExists):
        channels.create("one", "slack", {"url": "https://hooks.slack.com/services/A/B/C"})


def test_delete_and_get_unknown(channels):
    created = channels.create("one", "slack", {"url": "https://hooks.slack.com/services/A/B/C"})
    channels.delete(created.id)
    with pytest.raises(NotFound):
        channels.get(created.id)
    with pytest.raises(NotFound):
        channels.delete(created.id)


def test_mask_url():
    assert mask_url("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX") == "https://hooks.slack.com/ser…XXXX"
    assert mask_url("https://example.com") == "https://example.com"
    assert mask_url("http://user:pw@127.0.0.1:8080/hook/abcdefghijklmnop") == "http://127.0.0.1:8080/hoo…mnop"
