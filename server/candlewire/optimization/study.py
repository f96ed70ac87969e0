"""The Optuna study behind an optimization session, and what is read back from it.

The study is named after the session and lives in candlewire's database (Optuna's tables next to
candlewire's, whose Alembic history has a version table of its own name; on PostgreSQL in an
`optuna` schema of the same database).

Only the job's driver process reads and writes the study; executors' workers just run backtests.
The search samples on an in-memory copy and writes each told trial here once (`search.py`).

Trials are stored as COMPLETE with their score(s) as values (FAILED_SCORE for failed or degenerate
ones) and user attributes: `training_metrics`, `testing_metrics`, `dna`, and `failure` (why it
failed) when it did.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.engine import make_url

from candlewire.storage.db import SQLITE_BUSY_TIMEOUT_MS, create_engine

OPTUNA_SCHEMA = "optuna"
SAMPLERS = ("tpe", "random", "cma_es", "nsga_ii")
CANDIDATES = 10
# Sampler seeds are 32-bit.
SEED_MODULUS = 2**32

optuna.logging.set_verbosity(optuna.logging.WARNING)


@functools.lru_cache(maxsize=8)
def storage_for(database_url: str) -> RDBStorage:
    """Optuna's storage inside candlewire's database (created on first use)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # The server writes events to the same file meanwhile: wait for its locks instead of failing.
        return RDBStorage(database_url, engine_kwargs={"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}})
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}"))
    finally:
        engine.dispose()
    return RDBStorage(
        url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
        engine_kwargs={"connect_args": {"options": f"-csearch_path={OPTUNA_SCHEMA}"}, "pool_pre_ping": True},
    )


def open_study(database_url: str, session_id: str, objectives: int) -> optuna.Study:
    return optuna.create_study(
        study_name=session_id,
        storage=storage_for(database_url),
        directions=["maximize"] * objectives,
        load_if_exists=True,
    )


def load_study(database_url: str, session_id: str) -> optuna.Study | None:
    try:
        return optuna.load_study(study_name=session_id, storage=storage_for(database_url))
    except KeyError:
        return None


def delete_studies(database_url: str, keep: set[str] | None = None, only: set[str] | None = None) -> int:
    """Delete the studies named in `only`, or every study not named in `keep`; return how many went."""
    storage = storage_for(database_url)
    names = optuna.get_all_study_names(storage)
    doomed = [name for name in names if (name in only if only is not None else name not in (keep or set()))]
    for name in doomed:
        optuna.delete_study(study_name=name, storage=storage)
    return len(doomed)


def make_sampler(kind: str, seed: int) -> optuna.samplers.BaseSampler:
    seed %= SEED_MODULUS
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "cma_es":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if kind == "nsga_ii":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


# ================================================================================== reading back


def trial_report(trial: FrozenTrial) -> dict[str, Any]:
    """A finished trial as the API reports it."""
    failure = trial.user_attrs.get("failure")
    return {
        "number": trial.number,
        "state": "failed" if failure else "complete",
        "params": dict(trial.params),
        "dna": trial.user_attrs.get("dna", ""),
        "score": trial.values[0],
        "scores": list(trial.values),
        "training_metrics": trial.user_attrs.get("training_metrics") or {},
        "testing_metrics": trial.user_attrs.get("testing_metrics") or {},
        "failure": failure or "",
    }


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    return sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)


def summary(study: optuna.Study) -> dict[str, Any]:
    """The optimization's result: trials done, the best distinct candidates (by training score), and
    the objective curve of the scored trials (failed ones are left out of the curve)."""
    trials = finished_trials(study)
    scored = [trial_report(trial) for trial in trials if not trial.user_attrs.get("failure")]
    numbers, scores, best_scores = [], [], []
    best = -math.inf
    for report in scored:
        best = max(best, report["score"])
        numbers.append(report["number"])
        scores.append(report["score"])
        best_scores.append(best)
    candidates: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    for report in sorted(scored, key=lambda r: (-r["score"], r["number"])):
        key = tuple(sorted(report["params"].items()))
        if key in seen:
            continue
        seen.add(key)
        candidates.append({"rank": len(candidates) + 1, **report})
        if len(candidates) == CANDIDATES:
            break
    return {
        "trials_completed": len(trials),
        "candidates": candidates,
        "objective_curve": {"trial_numbers": numbers, "scores": scores, "best_scores": best_scores},
    }
