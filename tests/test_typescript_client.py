"""The generated TypeScript client (connect-web, gRPC-Web) against a real gateway, run under Node.

The package is written for bundlers (extensionless relative imports, `moduleResolution: Bundler`),
which Node's ESM loader cannot resolve; compiling it to CommonJS makes it runnable by plain Node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from candlewire_client.v1 import system_pb2
from server_process import PASSWORD, REPO

PACKAGE = REPO / "clients" / "typescript"
SCRIPT = Path(__file__).parent / "ts" / "get_info.cjs"

pytestmark = pytest.mark.skipif(not (shutil.which("node") and shutil.which("npx")), reason="Node.js is not installed")


@pytest.fixture(scope="module")
def compiled_client(tmp_path_factory) -> Path:
    if not (PACKAGE / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PACKAGE, check=True, timeout=300)
    out_dir = tmp_path_factory.mktemp("ts-client")
    compiled = subprocess.run(
        [
            "npx", "--no-install", "tsc", "-p", "tsconfig.json",
            "--noEmit", "false", "--outDir", str(out_dir),
            "--module", "commonjs", "--moduleResolution", "node10", "--verbatimModuleSyntax", "false",
        ],
        cwd=PACKAGE, capture_output=True, text=True, timeout=180,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    # The package itself is "type": "module"; the compiled copy lives outside it and is CommonJS.
    (out_dir / "package.json").write_text('{"type": "commonjs"}')
    return out_dir


def run_script(compiled_client: Path, gateway_url: str) -> dict:
    result = subprocess.run(
        ["node", str(SCRIPT), str(compiled_client), gateway_url, PASSWORD],
        env={**os.environ, "NODE_PATH": str(PACKAGE / "node_modules")},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_typescript_client_logs_in_and_gets_the_same_info_as_grpc(compiled_client, server, client):
    reply = run_script(compiled_client, server.gateway_url)
    over_grpc = client.system.GetInfo(system_pb2.GetInfoRequest())
    assert reply["tokenLength"] > 0
    assert int(reply["expireSeconds"]) > 0
    assert reply["info"] == {
        "version": over_grpc.version,
        "pythonVersion": over_grpc.python_version,
        "cpuCores": over_grpc.cpu_cores,
        "exchanges": list(over_grpc.exchanges),
        "timeframes": list(over_grpc.timeframes),
    }


def test_typescript_client_without_a_token_gets_code_16(compiled_client, server):
    reply = run_script(compiled_client, server.gateway_url)
    assert reply["unauthenticated"]["code"] == 16
