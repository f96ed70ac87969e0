"""Errors a strategy causes. Each names the rule it broke and, when known, where in the
strategy file; they subclass the domain errors so the API layer maps them to statuses."""

from __future__ import annotations

from candlewire.errors import CandlewireError, FailedPrecondition, InvalidArgument


def _located(message: str, filename: str | None, line: int | None) -> str:
    if filename and line:
        return f"{message} ({filename}, line {line})"
    return message


class StrategyError(InvalidArgument):
    """The strategy's code breaks a rule of the strategy API."""

    def __init__(self, message: str, rule: str, line: int | None = None, filename: str | None = None):
        super().__init__(_located(message, filename, line), {"strategy": message})
        self.rule = rule
        self.line = line
        self.filename = filename


class MissingMethod(StrategyError):
    pass


class ConflictingRules(StrategyError):
    pass


class ShortOnSpot(StrategyError):
    pass


class InvalidOrder(StrategyError):
    pass


class InsufficientFunds(FailedPrecondition):
    """An order the account cannot pay for at submission."""

    def __init__(self, message: str, rule: str, line: int | None = None, filename: str | None = None):
        super().__init__(_located(message, filename, line))
        self.rule = rule
        self.line = line
        self.filename = filename


class InsufficientMargin(InsufficientFunds):
    pass


class InsufficientBalance(InsufficientFunds):
    pass


class InvalidBacktestInput(InvalidArgument):
    """Bad config, routes or candles handed to the engine."""


class BacktestCancelled(CandlewireError):
    """`should_stop()` asked the run to stop."""
