"""EventService.Subscribe end to end: the global cursor (unset, 0, resuming after a disconnect), the
filters, and the batches every message carries."""

from __future__ import annotations

import json

import grpc
import pytest

from candlewire_client import events as each_event
from candlewire_client.v1 import common_pb2, event_pb2, system_pb2
from e2e_helpers import TERMINAL, start_test_job, wait_finished

S = common_pb2


@pytest.fixture(autouse=True)
def no_jobs_left_behind(client):
    yield
    client.system.TerminateAllJobs(system_pb2.TerminateAllJobsRequest())


def subscribe(client, timeout: float = 30.0, **request):
    return client.events.Subscribe(event_pb2.SubscribeRequest(**request), timeout=timeout)


def read_until(call, done, limit: int = 100_000) -> list[event_pb2.Event]:
    """Events of a Subscribe call up to and including the first one for which `done(event)` holds.

    The call streams batches; this may stop inside one (the cursor to resume from is per event).
    """
    events = []
    for event in each_event(checked_batches(call)):
        events.append(event)
        if done(event) or len(events) >= limit:
            break
    call.cancel()
    return events


def checked_batches(call):
    """The batches of a Subscribe call, each holding at least one event and no error."""
    for batch in call:
        assert batch.events, "an empty batch"
        assert not batch.HasField("error"), f"an error batch: {batch.error}"
        yield batch


def ends(session_ids):
    """`done` for read_until: true once every one of `session_ids` has sent its terminal status."""
    waiting = set(session_ids)

    def done(event):
        if event.WhichOneof("payload") == "session" and event.session.status in TERMINAL:
            waiting.discard(event.session_id)
        return not waiting

    return done


def cursor_now(client) -> int:
    """A global cursor at (or after) every event stored so far: the last event of a fresh finished job."""
    marker = start_test_job(client, steps=0)
    wait_finished(client, marker.id)
    events = read_until(subscribe(client, after_sequence=1, session_ids=[marker.id]), ends([marker.id]))
    return events[-1].sequence


def test_subscribe_replays_a_finished_session_from_the_cursor(client):
    start = cursor_now(client)
    session = start_test_job(client, steps=3, events_per_step=1)
    wait_finished(client, session.id)
    events = read_until(subscribe(client, after_sequence=start, session_ids=[session.id]), ends([session.id]))
    assert [event.session_sequence for event in events] == list(range(1, len(events) + 1))
    assert all(event.kind == S.SESSION_KIND_TEST_JOB for event in events)
    assert [e.sequence for e in events] == sorted({e.sequence for e in events})
    assert events[-2].WhichOneof("payload") == "test_job_result"
    assert events[-2].test_job_result.steps_done == 3


def test_subscribe_resumes_after_a_disconnect_without_gap_or_duplicate(client):
    start = cursor_now(client)
    sessions = [start_test_job(client, steps=10, step_interval_ms=30, events_per_step=2) for _ in range(2)]
    ids = [session.id for session in sessions]
    first = read_until(subscribe(client, after_sequence=start), lambda event: False, limit=7)
    resumed = read_until(subscribe(client, after_sequence=first[-1].sequence), ends(ids))
    replay = read_until(subscribe(client, after_sequence=start), ends(ids))
    received = [event.sequence for event in first + resumed]
    assert received == [event.sequence for event in replay]
    assert received == list(range(start + 1, start + 1 + len(received)))
    assert first + resumed == replay


def test_subscribe_without_a_cursor_streams_only_new_events(client):
    old = start_test_job(client, steps=1)
    wait_finished(client, old.id)
    call = subscribe(client)  # after_sequence unset: from now on
    # Steps 200 ms apart: the job still runs, and ends, after the server has taken the subscription.
    new = start_test_job(client, steps=3, step_interval_ms=200)
    events = read_until(call, ends([new.id]))
    assert old.id not in {event.session_id for event in events}
    assert new.id in {event.session_id for event in events}
    assert [e.sequence for e in events] == sorted({e.sequence for e in events})
    new_events = [event for event in events if event.session_id == new.id]
    # Whatever of the new job arrived is its tail, without a gap, up to its terminal status.
    numbers = [event.session_sequence for event in new_events]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert new_events[-1].session.status == S.SESSION_STATUS_SUCCEEDED


def test_subscribe_with_a_zero_cursor_replays_from_the_beginning(client):
    old = start_test_job(client, steps=2, events_per_step=1)
    wait_finished(client, old.id)
    call = subscribe(client, after_sequence=0)
    new = start_test_job(client, steps=1)
    events = read_until(call, ends([old.id, new.id]))
    # Every stored event from the very first one (the global sequence starts at 1), then the new ones.
    assert [event.sequence for event in events] == list(range(1, len(events) + 1))
    old_events = [event for event in events if event.session_id == old.id]
    assert [event.session_sequence for event in old_events] == list(range(1, len(old_events) + 1))
    assert old_events[0].session.status == S.SESSION_STATUS_QUEUED
    assert old_events[-1].session.status == S.SESSION_STATUS_SUCCEEDED
    assert new.id in {event.session_id for event in events}
    assert events[-1].session_id == new.id and events[-1].session.status == S.SESSION_STATUS_SUCCEEDED


def test_subscribe_filters_by_session_id(client):
    start = cursor_now(client)
    wanted, other = start_test_job(client, steps=3), start_test_job(client, steps=3)
    wait_finished(client, other.id)
    events = read_until(subscribe(client, after_sequence=start, session_ids=[wanted.id]), ends([wanted.id]))
    assert {event.session_id for event in events} == {wanted.id}


def test_subscribe_filters_by_session_kind(client):
    start = cursor_now(client)
    session = start_test_job(client, steps=2)
    wait_finished(client, session.id)
    matching = read_until(subscribe(client, after_sequence=start, kinds=[S.SESSION_KIND_TEST_JOB]), ends([session.id]))
    assert session.id in {event.session_id for event in matching}
    other_kind = subscribe(client, timeout=1.5, after_sequence=start, kinds=[S.SESSION_KIND_BACKTEST])
    with pytest.raises(grpc.RpcError) as caught:
        received = list(other_kind)
        pytest.fail(f"a stream without end ended: {received}")
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_subscribe_filters_by_event_type(client):
    start = cursor_now(client)
    session = start_test_job(client, steps=4, events_per_step=1)
    wait_finished(client, session.id)
    call = subscribe(client, after_sequence=start, session_ids=[session.id], types=[event_pb2.EVENT_TYPE_PROGRESS])
    events = read_until(call, lambda event: event.progress.done == 4)
    assert {event.WhichOneof("payload") for event in events} == {"progress"}
    assert events[-1].progress.total == 4


def test_subscribe_with_several_types_sends_each_of_them(client):
    start = cursor_now(client)
    session = start_test_job(client, steps=2, events_per_step=1)
    wait_finished(client, session.id)
    types = [event_pb2.EVENT_TYPE_SESSION, event_pb2.EVENT_TYPE_RESULT]
    events = read_until(subscribe(client, after_sequence=start, session_ids=[session.id], types=types), ends([session.id]))
    assert {event.WhichOneof("payload") for event in events} == {"session", "test_job_result"}


def test_subscribe_with_a_negative_cursor_is_invalid(client):
    with pytest.raises(grpc.RpcError) as caught:
        list(subscribe(client, after_sequence=-1))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_subscribe_over_rest_streams_newline_delimited_json(client, rest):
    start = cursor_now(client)
    session = start_test_job(client, steps=2)
    wait_finished(client, session.id)
    events = []
    params = {"afterSequence": start, "sessionIds": session.id}
    with rest.stream("GET", "/v1/events:subscribe", params=params) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.strip():
                batch = json.loads(line)  # each line is one batch: {"events": [...]}
                assert set(batch) == {"events"} and batch["events"], line
                events += batch["events"]
                if events[-1].get("session", {}).get("status") == "SESSION_STATUS_SUCCEEDED":
                    break
    assert events[-1]["session"]["status"] == "SESSION_STATUS_SUCCEEDED"
    assert {event["sessionId"] for event in events} == {session.id}
    assert [int(event["sessionSequence"]) for event in events] == list(range(1, len(events) + 1))
