"""Server interceptors: bearer-token auth, domain-error mapping and call logging."""

from __future__ import annotations

import contextvars
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

import grpc
from grpc_status import rpc_status

from candlewire import errors
from candlewire.api.status import internal_status, status_of

log = logging.getLogger("candlewire.api")

# The token the current call was authenticated with (Logout revokes it).
current_token: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_token", default=None)

PUBLIC_METHOD_PREFIXES = (
    "/candlewire.v1.AuthService/Login",
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


def _rewrap(handler: grpc.RpcMethodHandler, wrap_unary, wrap_stream) -> grpc.RpcMethodHandler:
    """The same handler with its behaviour wrapped; candlewire has only unary and server-streaming RPCs."""
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            wrap_unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            wrap_stream(handler.unary_stream), handler.request_deserializer, handler.response_serializer
        )
    return handler


def _status(error: BaseException, method: str):
    if isinstance(error, errors.CandlewireError):
        return status_of(error)
    reference = secrets.token_hex(4)
    log.error("unhandled error in %s (reference %s)", method, reference, exc_info=error)
    return internal_status(reference)


async def _abort(context: grpc.aio.ServicerContext, error: BaseException, method: str, status=None) -> None:
    await context.abort_with_status(rpc_status.to_status(status or _status(error, method)))


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Turns domain errors into rich statuses; anything else becomes INTERNAL without a stack trace."""

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method

        def wrap_unary(behaviour):
            async def call(request, context):
                started = time.perf_counter()
                try:
                    return await behaviour(request, context)
                except grpc.aio.AbortError:
                    raise
                except Exception as error:  # noqa: BLE001 - every error must become a status
                    await _abort(context, error, method)
                finally:
                    _log_call(method, context, started)

            return call

        def wrap_stream(behaviour):
            async def call(request, context):
                started = time.perf_counter()
                response_type = None
                try:
                    async for response in behaviour(request, context):
                        response_type = type(response)
                        yield response
                except grpc.aio.AbortError:
                    raise
                except Exception as error:  # noqa: BLE001
                    status = _status(error, method)
                    # Midway through a stream, REST clients only see the body: end it with a typed error event.
                    if response_type is not None and "error" in response_type.DESCRIPTOR.fields_by_name:
                        yield response_type(error=status)
                    await _abort(context, error, method, status)
                finally:
                    _log_call(method, context, started)

            return call

        return _rewrap(handler, wrap_unary, wrap_stream)


def _log_call(method: str, context: grpc.aio.ServicerContext, started: float) -> None:
    """One line per call at DEBUG (CANDLEWIRE_LOG_LEVEL=DEBUG); skipped cheaply otherwise."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    code = context.code()
    log.debug(
        "rpc",
        extra={
            "rpc_method": method,
            "rpc_code": code.name if isinstance(code, grpc.StatusCode) else "OK",
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        },
    )


def bearer_token(metadata) -> str | None:
    for key, value in metadata or ():
        if key == "authorization" and value.lower().startswith("bearer "):
            return value[7:].strip() or None
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Every RPC except login, health and reflection needs a valid bearer token."""

    def __init__(self, verify_token: Callable[[str], Awaitable[bool]]):
        self._verify_token = verify_token

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or details.method.startswith(PUBLIC_METHOD_PREFIXES):
            return handler
        token = bearer_token(details.invocation_metadata)
        authorized = token is not None and await self._verify_token(token)
        reason = "missing bearer token" if token is None else "invalid or expired token"

        def wrap_unary(behaviour):
            async def call(request, context):
                if not authorized:
                    await _abort(context, errors.Unauthenticated(reason), details.method)
                current_token.set(token)
                return await behaviour(request, context)

            return call

        def wrap_stream(behaviour):
            async def call(request, context):
                if not authorized:
                    await _abort(context, errors.Unauthenticated(reason), details.method)
                current_token.set(token)
                async for response in behaviour(request, context):
                    yield response

            return call

        return _rewrap(handler, wrap_unary, wrap_stream)
