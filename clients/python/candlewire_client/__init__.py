"""Typed Python client for candlewire's gRPC API."""

from candlewire_client.client import DEFAULT_TARGET, Client, field_violations

__all__ = ["Client", "DEFAULT_TARGET", "field_violations"]
