"""Typed Python client for candlewire's gRPC API."""

from candlewire_client.client import DEFAULT_TARGET, Client, events, field_violations

__all__ = ["Client", "DEFAULT_TARGET", "events", "field_violations"]
