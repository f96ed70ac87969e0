"""Sending a message through a channel. Remote failures are results, never exceptions:
a broken chat webhook must not fail the backtest or live session that reported through it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from candlewire.notifications.channels import Channel

TELEGRAM_API_URL_ENV = "CANDLEWIRE_TELEGRAM_API_URL"
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"
TIMEOUT_SECONDS = 10.0
_DETAIL_LIMIT = 300


@dataclass(frozen=True)
class DeliveryResult:
    delivered: bool
    http_status: int  # 0 when no HTTP answer arrived
    detail: str


def send(channel: Channel, text: str, event: str = "message") -> DeliveryResult:
    url, payload = _request(channel, text, event)
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
            response = client.post(url, json=payload)
    except httpx.HTTPError as error:
        return DeliveryResult(False, 0, f"{type(error).__name__}: {str(error) or 'no answer'}"[:_DETAIL_LIMIT])
    return _judge(channel.type, response)


def _request(channel: Channel, text: str, event: str) -> tuple[str, dict[str, Any]]:
    config = channel.config
    if channel.type == "telegram":
        base = os.environ.get(TELEGRAM_API_URL_ENV, "").strip() or DEFAULT_TELEGRAM_API_URL
        return f"{base.rstrip('/')}/bot{config['bot_token']}/sendMessage", {"chat_id": config["chat_id"], "text": text}
    if channel.type == "discord":
        return config["url"], {"content": text}
    if channel.type == "slack":
        return config["url"], {"text": text}
    time = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return config["url"], {"event": event, "text": text, "time": time}


def _judge(channel_type: str, response: httpx.Response) -> DeliveryResult:
    status = response.status_code
    if channel_type == "telegram":
        # Telegram explains refusals in `description`, e.g. "Bad Request: chat not found".
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.is_success and body.get("ok") is True:
            return DeliveryResult(True, status, f"delivered (HTTP {status})")
        reason = body.get("description") or response.text
        return DeliveryResult(False, status, f"HTTP {status}: {reason}"[:_DETAIL_LIMIT])
    if response.is_success:
        return DeliveryResult(True, status, f"delivered (HTTP {status})")
    return DeliveryResult(False, status, f"HTTP {status}: {response.text}"[:_DETAIL_LIMIT])
