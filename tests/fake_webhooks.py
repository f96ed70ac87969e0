"""A local HTTP server standing in for Telegram's Bot API and Discord/Slack/generic webhooks.

It records every POST and answers the way the real services do (Telegram `{"ok": true, ...}`,
Discord 204, Slack `ok`, others 200), or with an error after `fail_with(status, body)`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_TELEGRAM_SEND = re.compile(r"^/bot(?P<token>[^/]+)/sendMessage$")


@dataclass(frozen=True)
class RecordedPost:
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON


@dataclass
class FakeWebhooks:
    posts: list[RecordedPost] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self._failure: tuple[int, str] | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_with(self, status: int, body: str) -> None:
        """Answer every following POST with this status and body (until `succeed()`)."""
        self._failure = (status, body)

    def succeed(self) -> None:
        self._failure = None

    def start(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeWebhooks":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def record(self, post: RecordedPost) -> tuple[int, str, str] | None:
        with self._lock:
            self.posts.append(post)
        if self._failure is None:
            return None
        status, body = self._failure
        content_type = "application/json" if body.lstrip().startswith("{") else "text/plain"
        return status, content_type, body


def _success(path: str, body: Any) -> tuple[int, str, str]:
    if _TELEGRAM_SEND.match(path):
        chat_id = body.get("chat_id") if isinstance(body, dict) else None
        message = {"message_id": 1, "chat": {"id": chat_id}, "text": body.get("text") if isinstance(body, dict) else ""}
        return 200, "application/json", json.dumps({"ok": True, "result": message})
    if path.startswith("/api/webhooks/"):
        return 204, "", ""
    if path.startswith("/services/"):
        return 200, "text/plain", "ok"
    return 200, "application/json", json.dumps({"received": True})


def _handler_for(fake: FakeWebhooks) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw
            post = RecordedPost(self.path, {key.lower(): value for key, value in self.headers.items()}, body)
            status, content_type, text = fake.record(post) or _success(self.path, body)
            payload = text.encode()
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            if status != 204:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
