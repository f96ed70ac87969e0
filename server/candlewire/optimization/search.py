"""The search loop: ask a batch of trials, evaluate them on an executor, tell their scores.

Reproducibility rule: trials are asked in batches of `batch_size` (the job's cpu_cores, recorded
at start, whatever executor runs it), aligned on multiples of it: batch k holds trials
k·B .. k·B+B-1. Each batch gets a fresh sampler seeded with `seed + number of its first trial`, and
the next batch is asked only once every trial of this one is told. So the same seed gives the same
trials on one core, a local pool or a Dask cluster, in any completion order, and also after a
resume when the interruption came while a batch was being evaluated: trials the interrupted run
had asked but not told are evaluated again with their recorded params before new ones are asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from candlewire.execution import SharedPayload
from candlewire.optimization import space as search_space
from candlewire.optimization.scoring import FAILED_SCORE, Scoring
from candlewire.optimization.study import finished_trials, make_sampler, trial_report
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


# Called after each told trial with (its report, trials finished, best training score so far or None).
OnTrial = Callable[[dict[str, Any], int, float | None], None]


def run_search(study: optuna.Study, plan: SearchPlan, shared: SharedPayload, on_trial: OnTrial) -> None:
    distributions = search_space.distributions(plan.space)
    done = len(finished_trials(study))
    best = max((t.values[0] for t in finished_trials(study) if not t.user_attrs.get("failure")), default=None)
    # Trials asked by an interrupted run and never told: the same params are evaluated again.
    pending = [
        optuna.Trial(study, frozen._trial_id)
        for frozen in sorted(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)), key=lambda t: t.number)
    ]
    while pending or done < plan.trials:
        if not pending:
            size = min(plan.batch_size - done % plan.batch_size, plan.trials - done)
            study.sampler = make_sampler(plan.sampler, plan.seed + done)
            pending = [study.ask(distributions) for _ in range(size)]
        for index, outcome in shared.map_unordered(evaluate, [trial.params for trial in pending]):
            report = _tell(study, pending[index], outcome, plan)
            done += 1
            if report["state"] == "complete" and (best is None or report["score"] > best):
                best = report["score"]
            on_trial(report, done, best)
        pending = []


def _tell(study: optuna.Study, trial: optuna.Trial, outcome: dict[str, Any], plan: SearchPlan) -> dict[str, Any]:
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
    frozen = study.tell(trial, values)
    return trial_report(frozen)
