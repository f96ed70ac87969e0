"""AuthService: password → bearer token, and revocation."""

from __future__ import annotations

import asyncio

from google.protobuf import empty_pb2

from candlewire.api.convert import timestamp
from candlewire.api.interceptors import current_token
from candlewire.api.v1 import auth_pb2, auth_pb2_grpc
from candlewire.errors import require

# Envoy puts the caller's address here; only trusted when the peer itself is local (Envoy).
_FORWARDED_FOR = "x-forwarded-for"


def client_address(context) -> str:
    peer = context.peer() or "unknown"
    if peer.startswith(("ipv4:127.", "ipv6:[::1]")):
        for key, value in context.invocation_metadata() or ():
            if key == _FORWARDED_FOR and value:
                return value.split(",")[0].strip()
    return peer.rsplit(":", 1)[0]


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, app):
        self.app = app

    async def Login(self, request, context):
        require({"password": "must not be empty"} if not request.password else {})
        issued = await asyncio.to_thread(self.app.login, request.password, client_address(context))
        return auth_pb2.LoginResponse(token=issued.token, expire_time=timestamp(issued.expires_at))

    async def Logout(self, request, context):
        await asyncio.to_thread(self.app.tokens.revoke, current_token.get())
        return empty_pb2.Empty()
