"""A tiny raw gRPC-Web client: what a browser sends through the Envoy gateway, frame by frame.

A gRPC-Web body is a sequence of frames `flag (1 byte) + length (4 bytes, big-endian) + payload`;
flag 0x00 carries a message, flag 0x80 the trailers as HTTP/1-style `name: value\\r\\n` lines.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx

DATA_FLAG = 0x00
TRAILER_FLAG = 0x80


def frame(payload: bytes, flag: int = DATA_FLAG) -> bytes:
    return struct.pack(">BI", flag, len(payload)) + payload


def parse_frames(body: bytes) -> list[tuple[int, bytes]]:
    frames = []
    offset = 0
    while offset < len(body):
        flag, length = struct.unpack_from(">BI", body, offset)
        offset += 5
        frames.append((flag, body[offset : offset + length]))
        offset += length
    return frames


def parse_trailers(payload: bytes) -> dict[str, str]:
    trailers = {}
    for line in payload.decode().split("\r\n"):
        if ":" in line:
            name, _, value = line.partition(":")
            trailers[name.strip().lower()] = value.strip()
    return trailers


@dataclass
class GrpcWebReply:
    http_status: int
    messages: list[bytes] = field(default_factory=list)
    trailers: dict[str, str] = field(default_factory=dict)

    @property
    def grpc_status(self) -> int:
        return int(self.trailers["grpc-status"])

    @property
    def grpc_message(self) -> str:
        return unquote(self.trailers.get("grpc-message", ""))


def call(base_url: str, method: str, request, token: str | None = None, timeout: float = 30.0) -> GrpcWebReply:
    """POST one request to `/<package.Service>/<Method>` and split the reply into messages and trailers.

    Trailers of a call that fails before any message may arrive as HTTP headers ("trailers-only");
    they are folded into `trailers` too.
    """
    headers = {
        "content-type": "application/grpc-web+proto",
        "x-grpc-web": "1",
        "accept": "application/grpc-web+proto",
    }
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = httpx.post(
        f"{base_url}/{method.lstrip('/')}", content=frame(request.SerializeToString()), headers=headers, timeout=timeout
    )
    reply = GrpcWebReply(http_status=response.status_code)
    for name in ("grpc-status", "grpc-message"):
        if name in response.headers:
            reply.trailers[name] = response.headers[name]
    for flag, payload in parse_frames(response.content):
        if flag & TRAILER_FLAG:
            reply.trailers.update(parse_trailers(payload))
        else:
            reply.messages.append(payload)
    return reply


def unary(base_url: str, method: str, request, response_type, token: str | None = None):
    """The single response message of a successful unary call (asserts grpc-status 0)."""
    reply = call(base_url, method, request, token)
    assert reply.grpc_status == 0, f"grpc-status {reply.grpc_status}: {reply.grpc_message}"
    assert len(reply.messages) == 1
    return response_type.FromString(reply.messages[0])
