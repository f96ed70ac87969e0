"""How the CLI reaches a server: address, stored token, automatic login."""

from __future__ import annotations

import json
import os
from pathlib import Path

from candlewire_client import DEFAULT_TARGET, Client


def token_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "candlewire" / "tokens.json"


def _stored_tokens() -> dict[str, str]:
    path = token_file()
    return json.loads(path.read_text()) if path.exists() else {}


def store_token(server: str, token: str | None) -> None:
    tokens = _stored_tokens()
    if token:
        tokens[server] = token
    else:
        tokens.pop(server, None)
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(tokens, f)


def server_address(flag: str | None) -> str:
    return flag or os.environ.get("CANDLEWIRE_SERVER") or DEFAULT_TARGET


def connect(server: str) -> Client:
    """A client with a token: CANDLEWIRE_TOKEN, then the one `candlewire login` stored, then CANDLEWIRE_PASSWORD."""
    token = os.environ.get("CANDLEWIRE_TOKEN") or _stored_tokens().get(server)
    if token:
        return Client(server, token=token)
    password = os.environ.get("CANDLEWIRE_PASSWORD")
    if password:
        return Client(server, password=password)
    raise SystemExit(f"not logged in to {server}: run `candlewire login` or set CANDLEWIRE_TOKEN / CANDLEWIRE_PASSWORD")
