"""FileService: a session's files as streamed `google.api.HttpBody` chunks (raw files over REST).

Every session has its log; a backtest that succeeded also has the files `reports.FILE_BUILDERS` builds,
a Monte Carlo or significance test that succeeded its chart."""

from __future__ import annotations

import asyncio

from google.api import httpbody_pb2

from candlewire.api.v1 import file_pb2, file_pb2_grpc
from candlewire.backtests.reads import finished_result
from candlewire.errors import FailedPrecondition, InvalidArgument, require
from candlewire.files.session_log import log_lines
from candlewire.montecarlo.charts import monte_carlo_chart_png
from candlewire.reports import FILE_BUILDERS
from candlewire.significance.charts import significance_chart_png
from candlewire.storage import sessions as session_store

CHUNK_BYTES = 64 * 1024
# Research chart → (session kind it belongs to, builder from that session's result).
RESEARCH_CHARTS = {
    file_pb2.FILE_KIND_CHART_MONTE_CARLO_PNG: ("monte_carlo", monte_carlo_chart_png),
    file_pb2.FILE_KIND_CHART_SIGNIFICANCE_PNG: ("significance_test", significance_chart_png),
}
# Also what server.py's unimplemented research services name.
RESEARCH = "research at scale (optimization, Monte Carlo, significance tests)"


def _chunks(lines, limit: int = CHUNK_BYTES):
    buffer: list[bytes] = []
    size = 0
    for line in lines:
        data = line.encode()
        buffer.append(data)
        size += len(data)
        if size >= limit:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer or size == 0:
        yield b"".join(buffer)


class FileServicer(file_pb2_grpc.FileServiceServicer):
    def __init__(self, app):
        self.app = app

    async def DownloadFile(self, request, context):
        violations = {}
        if not request.session_id:
            violations["session_id"] = "must not be empty"
        if request.kind == file_pb2.FILE_KIND_UNSPECIFIED:
            violations["kind"] = "must be set"
        require(violations)
        if request.kind not in file_pb2.FileKind.values():
            raise InvalidArgument("unknown file kind", {"kind": "unknown file kind"})
        record = await asyncio.to_thread(session_store.get_session, self.app.engine, request.session_id)
        if request.kind == file_pb2.FILE_KIND_LOG:
            content_type, filename = "text/plain; charset=utf-8", f"{record.kind}-{record.id}.log"
            chunks = await asyncio.to_thread(lambda: list(_chunks(log_lines(self.app.engine, record.id))))
        elif request.kind in RESEARCH_CHARTS:
            kind, build = RESEARCH_CHARTS[request.kind]
            if record.kind != kind or record.status != "succeeded" or not record.result:
                raise FailedPrecondition(
                    f"{file_pb2.FileKind.Name(request.kind)} exists only for a {kind.replace('_', ' ')} that succeeded; "
                    f"session {record.id} is a {record.status} {record.kind.replace('_', ' ')}"
                )
            content_type, filename = "image/png", f"{record.kind}-{record.id}.png"
            data = await asyncio.to_thread(build, record.result)
            chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
        else:
            builder = FILE_BUILDERS[file_pb2.FileKind.Name(request.kind).removeprefix("FILE_KIND_").lower()]
            result = finished_result(record)
            content_type, filename = builder.content_type, f"backtest-{record.id}{builder.suffix}"
            data = await asyncio.to_thread(builder.build, result, record.title, record.params["routes"])
            chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
        await context.send_initial_metadata([("content-disposition", f'attachment; filename="{filename}"')])
        for i, chunk in enumerate(chunks):
            # Only the first chunk's content type counts; Envoy and clients take it as the file's.
            yield httpbody_pb2.HttpBody(content_type=content_type if i == 0 else "", data=chunk)
