"""The Envoy gateway in front of the gRPC server: gRPC-Web and REST/JSON.

See `candlewire.gateway.envoy`.
"""
