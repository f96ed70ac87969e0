"""The search loop: ask a batch of trials, evaluate them on an executor, tell their scores.

Reproducibility rule: trials are asked in batches of `batch_size` (the job's cpu_cores, recorded
at start, whatever executor runs it), aligned on multiples of it: batch k holds trials
k·B .. k·B+B-1. Each batch gets a fresh sampler seeded with `seed + number of its first trial`, and
the next batch is asked only once every trial of this one is told. So the same seed gives the same
trials on one core, a local pool or a Dask cluster, in any completion order.

The sampler works on an in-memory study; the study handed to `run_search` (the job's, in
candlewire's database) is the record: each told trial is written there once, whole, in trial-number
order (the record always holds trials 0..n-1), and reported only then. Asking and telling on the
database study directly costs a transaction per step (the trial, each parameter, each attribute, the
values): ~25 ms of driver CPU a trial on SQLite, more on PostgreSQL (measured), ahead of every batch;
writing a told trial whole costs ~8 ms. Recording overlaps the evaluation: the trials told while
others still run are recorded at once, and the batch's last one after the next batch has gone to
the workers.

Resume: the search replays the recorded trials (asks them again batch by batch, tells each its
recorded outcome), so the sampler sees exactly what the interrupted run saw, including what samplers
keep in the study between asks (NSGA-II's parent populations), which copying the trials over would
lose. Then it evaluates the rest of the interrupted batch and goes on. A recorded trial the replay
asks differently (a changed sampler) stops the search rather than mix two searches in one study.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from candlewire.execution import SharedPayload
from candlewire.optimization import space as search_space
from candlewire.optimization.scoring import FAILED_SCORE, Scoring
from candlewire.optimization.study import make_sampler, trial_report
from candlewire.optimization.trial import evaluate

DEGENERATE = "degenerate training run: no closed trades or a non-finite objective"


@dataclass(frozen=True)
class SearchPlan:
    space: list[dict[str, Any]]
    trials: int
    batch_size: int
    seed: int
    sampler: str
    scoring: Scoring
    # Maximize (training score, testing score) as a Pareto front instead of the training score alone.
    multi_objective: bool = False

    @property
    def objectives(self) -> int:
        return 2 if self.multi_objective else 1


# Called after each recorded trial with (its report, trials finished, best training score so far or None).
OnTrial = Callable[[dict[str, Any], int, float | None], None]


def run_search(record: optuna.Study, plan: SearchPlan, shared: SharedPayload, on_trial: OnTrial) -> None:
    recorded = recorded_trials(record)
    recorder = _Recorder(record, recorded, on_trial)
    memory = optuna.create_study(directions=record.directions)
    distributions = search_space.distributions(plan.space)
    asked = 0
    while asked < plan.trials:
        memory.sampler = make_sampler(plan.sampler, plan.seed + asked)
        batch = [memory.ask(distributions) for _ in range(min(plan.batch_size, plan.trials - asked))]
        asked += len(batch)
        fresh = [trial for trial in batch if trial.number >= len(recorded)]
        for trial in batch[: len(batch) - len(fresh)]:
            _tell_recorded(memory, trial, recorded[trial.number])
        if not fresh:
            continue
        results = shared.map_unordered(evaluate, [trial.params for trial in fresh])
        recorder.flush()  # the previous batch's last trial, while this batch runs
        for told, (index, outcome) in enumerate(results, 1):
            recorder.add(_tell(memory, fresh[index], outcome, plan))
            if told < len(fresh):
                recorder.flush()
    recorder.flush()


def recorded_trials(record: optuna.Study) -> list[FrozenTrial]:
    """The record's trials by number; all told, as `run_search` writes them."""
    trials = sorted(record.get_trials(deepcopy=False), key=lambda trial: trial.number)
    unfinished = [trial.number for trial in trials if trial.state != TrialState.COMPLETE]
    if unfinished:
        raise RuntimeError(f"trials {unfinished} of this study were asked but never told (by an older candlewire); "
                           "it cannot be resumed")
    return trials


class _Recorder:
    """Writes told trials into the record in number order (a trial waits for the ones before it), then
    reports each."""

    def __init__(self, record: optuna.Study, recorded: list[FrozenTrial], on_trial: OnTrial):
        self.record = record
        self.on_trial = on_trial
        self.done = len(recorded)
        self.best = max((trial.values[0] for trial in recorded if not trial.user_attrs.get("failure")), default=None)
        self.told: dict[int, FrozenTrial] = {}

    def add(self, trial: FrozenTrial) -> None:
        self.told[trial.number] = trial

    def flush(self) -> None:
        while self.done in self.told:
            trial = self.told.pop(self.done)
            self.record.add_trial(trial)
            self.done += 1
            report = trial_report(trial)
            if report["state"] == "complete" and (self.best is None or report["score"] > self.best):
                self.best = report["score"]
            self.on_trial(report, self.done, self.best)


def _tell_recorded(memory: optuna.Study, trial: optuna.Trial, recorded: FrozenTrial) -> None:
    if trial.params != recorded.params:
        raise RuntimeError(f"trial {recorded.number} is recorded with {recorded.params} but the sampler now asks "
                           f"{trial.params}: this study cannot be resumed with this candlewire")
    for key, value in recorded.user_attrs.items():
        trial.set_user_attr(key, value)
    memory.tell(trial, recorded.values)


def _tell(study: optuna.Study, trial: optuna.Trial, outcome: dict[str, Any], plan: SearchPlan) -> FrozenTrial:
    failure = outcome.get("error")
    values = [FAILED_SCORE] * plan.objectives
    if not failure:
        training = plan.scoring.score(outcome["training_metrics"])
        testing = plan.scoring.score(outcome["testing_metrics"])
        if training is None:
            failure = DEGENERATE
        else:
            values = [training, FAILED_SCORE if testing is None else testing][: plan.objectives]
        trial.set_user_attr("training_metrics", outcome["training_metrics"])
        trial.set_user_attr("testing_metrics", outcome["testing_metrics"])
    if failure:
        trial.set_user_attr("failure", failure)
    trial.set_user_attr("dna", search_space.dna(trial.params, plan.space))
    return study.tell(trial, values)
