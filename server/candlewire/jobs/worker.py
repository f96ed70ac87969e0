"""Worker process entry: `python -m candlewire.jobs.worker` with the job spec as JSON on stdin.

Spec: {"target": "module:function", "params", "session_id", "database_url", "data_dir", "event_fd"}.
Sends the final result (or an `error` event with the traceback) on the event pipe and exits 0;
any other exit tells the server the worker crashed. Imports stay light so workers start fast.
"""

from __future__ import annotations

import json
import sys
import traceback


def main() -> int:
    spec = json.loads(sys.stdin.read())
    from candlewire.jobs.context import JobContext
    from candlewire.jobs.registry import load

    ctx = JobContext(spec["session_id"], spec["database_url"], spec["data_dir"], spec["event_fd"])
    try:
        run = load(spec["target"])
        returned = run(spec["params"], ctx)
        result = returned if returned is not None else (ctx.final_result or {})
        ctx.send("result", {"final": True, "result": result})
    except BaseException as exc:  # noqa: BLE001 - the job's failure is reported, not propagated
        ctx.send("error", {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
