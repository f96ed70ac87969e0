"""A tiny job the tests drive: timed steps with log lines and progress, optional failure or crash."""

from __future__ import annotations

import os
import time
from typing import Any

from candlewire.jobs.context import JobContext

CRASH_EXIT_CODE = 13


def run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    steps = int(params.get("steps", 10))
    interval = float(params.get("step_interval_ms", 0)) / 1000
    events_per_step = int(params.get("events_per_step", 1))
    fail_at_step = params.get("fail_at_step")
    crash_at_step = params.get("crash_at_step")
    for step in range(1, steps + 1):
        if crash_at_step == step:
            os._exit(CRASH_EXIT_CODE)
        if fail_at_step == step:
            raise RuntimeError(f"test job failed at step {step}")
        for line in range(events_per_step):
            ctx.log(f"step {step} line {line}")
        ctx.progress(step, steps)
        if interval:
            time.sleep(interval)
    return {"steps_done": steps}
