"""TestJobService: a synthetic job the test suite uses to drive the job runtime."""

from __future__ import annotations

from candlewire.api import convert, results
from candlewire.api.sessions import SessionEndpoints
from candlewire.api.testing.v1 import test_jobs_pb2, test_jobs_pb2_grpc
from candlewire.errors import FailedPrecondition, require

_LIMITS = {"steps": 1_000_000, "step_interval_ms": 60_000, "events_per_step": 100_000}


class TestJobServicer(test_jobs_pb2_grpc.TestJobServiceServicer):
    def __init__(self, app):
        self.sessions = SessionEndpoints(app, "test_job", test_jobs_pb2.TestJobEventBatch)

    @staticmethod
    def _params(request) -> dict:
        violations = {
            field: f"must be between 0 and {limit}"
            for field, limit in _LIMITS.items()
            if not 0 <= getattr(request, field) <= limit
        }
        for field in ("fail_at_step", "crash_at_step"):
            if getattr(request, field) < 0:
                violations[field] = "must not be negative"
        require(violations)
        return {
            "steps": request.steps,
            "step_interval_ms": request.step_interval_ms,
            "events_per_step": request.events_per_step,
            "fail_at_step": request.fail_at_step,
            "crash_at_step": request.crash_at_step,
        }

    async def StartTestJob(self, request, context):
        return convert.session(await self.sessions.start(self._params(request), title=request.title))

    async def WatchTestJob(self, request, context):
        async for batch in self.sessions.watch(request.id, request.after_sequence):
            yield batch
            if request.fail_after_sequence and batch.events[-1].sequence >= request.fail_after_sequence:
                raise FailedPrecondition(f"watch interrupted after sequence {request.fail_after_sequence} as requested")

    async def CancelTestJob(self, request, context):
        return convert.session(await self.sessions.cancel(request.id))

    async def GetTestJob(self, request, context):
        record = await self.sessions.get(request.id)
        job = test_jobs_pb2.TestJob(session=convert.session(record))
        job.params.title = record.title
        for field, value in record.params.items():
            setattr(job.params, field, value)
        if record.result:
            job.result.CopyFrom(results.test_job_result(record.result))
        return job
