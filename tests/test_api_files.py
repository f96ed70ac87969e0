"""FileService end to end: a session's log as a raw file over REST and as HttpBody chunks over gRPC."""

from __future__ import annotations

from datetime import date

import grpc
import pytest

from candlewire_client.v1 import common_pb2, file_pb2
from e2e_data_helpers import events_of, rpc_fails, run_import


@pytest.fixture(scope="module")
def finished_import(client) -> list:
    """A one-day candle import that ran to the end (its worker logged a start and a summary line)."""
    events = run_import(client, "binance-spot", "BTC-USDT", date(2024, 1, 1), date(2024, 1, 2))
    assert events[-1].session.status == common_pb2.SESSION_STATUS_SUCCEEDED
    return events


def download(client, session_id: str, kind: int):
    return client.files.DownloadFile(file_pb2.DownloadFileRequest(session_id=session_id, kind=kind), timeout=30)


def test_log_over_rest_is_a_plain_text_attachment_holding_the_log_lines(rest, finished_import):
    session_id = finished_import[0].session.id

    response = rest.get(f"/v1/sessions/{session_id}/files/FILE_KIND_LOG")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and session_id in disposition
    lines = response.text.splitlines()
    logged = events_of(finished_import, "log")
    assert len(lines) == len(logged)
    for line, log in zip(lines, logged):
        assert line.endswith(log.text)
        assert line.split()[1] == common_pb2.LogLevel.Name(log.level).removeprefix("LOG_LEVEL_")


def test_log_over_grpc_is_http_body_chunks_equal_to_the_rest_file(client, rest, finished_import):
    session_id = finished_import[0].session.id

    call = download(client, session_id, file_pb2.FILE_KIND_LOG)
    chunks = list(call)
    metadata = dict(call.initial_metadata())
    over_rest = rest.get(f"/v1/sessions/{session_id}/files/FILE_KIND_LOG").content

    assert chunks and chunks[0].content_type.startswith("text/plain")
    assert b"".join(chunk.data for chunk in chunks) == over_rest
    assert metadata["content-disposition"].startswith("attachment; filename=")


def test_download_with_an_unspecified_kind_is_invalid_argument(client, rest, finished_import):
    session_id = finished_import[0].session.id

    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        list(download(client, session_id, file_pb2.FILE_KIND_UNSPECIFIED))

    assert "kind" in failure["violations"]
    assert rest.get(f"/v1/sessions/{session_id}/files/FILE_KIND_UNSPECIFIED").status_code == 400


def test_download_for_an_unknown_session_is_not_found(client, rest):
    with rpc_fails(grpc.StatusCode.NOT_FOUND):
        list(download(client, "0" * 32, file_pb2.FILE_KIND_LOG))
    assert rest.get(f"/v1/sessions/{'0' * 32}/files/FILE_KIND_LOG").status_code == 404


def test_backtest_files_of_a_session_that_is_not_a_backtest_are_a_failed_precondition(client, rest, finished_import):
    session_id = finished_import[0].session.id

    with rpc_fails(grpc.StatusCode.FAILED_PRECONDITION) as failure:
        list(download(client, session_id, file_pb2.FILE_KIND_TRADES_CSV))
    response = rest.get(f"/v1/sessions/{session_id}/files/FILE_KIND_TRADES_CSV")

    assert "not a backtest" in failure["details"]
    assert response.status_code == 400
