"""Servicers for capabilities that later work delivers: every RPC answers UNIMPLEMENTED, naming it."""

from __future__ import annotations

from candlewire.errors import Unimplemented


def unimplemented_servicer(base: type, service, capability: str) -> type:
    """A subclass of the generated `base` servicer whose methods raise Unimplemented naming the
    capability; `service` is the ServiceDescriptor."""
    streaming = {method.name for method in service.methods if method.server_streaming}

    def unary(name):
        async def method(self, request, context):
            raise Unimplemented(f"{base.__name__.removesuffix('Servicer')}.{name} is not available yet: {capability}")

        return method

    def stream(name):
        async def method(self, request, context):
            raise Unimplemented(f"{base.__name__.removesuffix('Servicer')}.{name} is not available yet: {capability}")
            yield  # makes this an async generator, as the streaming handler expects

        return method

    methods = {method.name: (stream if method.name in streaming else unary)(method.name) for method in service.methods}
    return type(f"Unimplemented{base.__name__}", (base,), methods)
