"""Domain errors. The API layer maps each class to its gRPC status code."""

from __future__ import annotations


class CandlewireError(Exception):
    """Base of every error that is the user's to fix (never a server bug)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(CandlewireError):
    """Bad input; `violations` names each bad field (dotted path) and why."""

    def __init__(self, message: str, violations: dict[str, str] | None = None):
        super().__init__(message)
        self.violations = dict(violations or {})


class NotFound(CandlewireError):
    pass


class AlreadyExists(CandlewireError):
    pass


class FailedPrecondition(CandlewireError):
    pass


class Unauthenticated(CandlewireError):
    pass


class PermissionDenied(CandlewireError):
    pass


class ResourceExhausted(CandlewireError):
    """Too many attempts (login throttling); `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


class Unimplemented(CandlewireError):
    pass


def require(violations: dict[str, str], message: str = "invalid request") -> None:
    """Raise InvalidArgument when any field check failed."""
    if violations:
        raise InvalidArgument(message, violations)


def with_field_prefix(error: InvalidArgument, rename) -> InvalidArgument:
    """The same error with every violation's field renamed (to match the caller's request shape)."""
    return InvalidArgument(error.message, {rename(field): reason for field, reason in error.violations.items()})
