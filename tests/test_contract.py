"""The API contract: protos lint clean, generated code is current, every RPC is
reachable over REST, and the TypeScript client compiles."""

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

import candlewire.api.testing.v1
import candlewire.api.v1

ROOT = Path(__file__).resolve().parents[1]
TYPESCRIPT = ROOT / "clients" / "typescript"
DESCRIPTOR_SET = ROOT / "server" / "candlewire" / "gateway" / "candlewire.binpb"


def _services():
    for package in (candlewire.api.v1, candlewire.api.testing.v1):
        for module_info in pkgutil.iter_modules(package.__path__):
            if module_info.name.endswith("_pb2"):
                module = importlib.import_module(f"{package.__name__}.{module_info.name}")
                yield from module.DESCRIPTOR.services_by_name.values()


SERVICES = sorted(_services(), key=lambda service: service.full_name)
METHODS = [method for service in SERVICES for method in service.methods]


@pytest.fixture(scope="module")
def generate_check():
    """Runs `scripts/generate --check` once; it also lays out .proto-deps/ and
    node_modules/, which buf and tsc need."""
    return subprocess.run(
        [str(ROOT / "scripts" / "generate"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_generated_code_matches_protos(generate_check):
    assert generate_check.returncode == 0, generate_check.stdout + generate_check.stderr


def test_buf_lint_passes(generate_check):
    lint = subprocess.run(
        [str(TYPESCRIPT / "node_modules" / ".bin" / "buf"), "lint"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_contract_defines_every_service():
    assert {service.full_name for service in SERVICES} == {
        "candlewire.testing.v1.TestJobService",
        *(
            f"candlewire.v1.{name}Service"
            for name in (
                "Auth", "Backtest", "Candles", "Config", "Event", "Exchange", "File", "Live",
                "Lsp", "MonteCarlo", "Notification", "Optimization", "SignificanceTest",
                "Strategy", "System",
            )
        ),
    }


@pytest.mark.parametrize("method", METHODS, ids=lambda method: method.full_name)
def test_rpc_has_rest_mapping_under_v1(method):
    options = method.GetOptions()
    assert options.HasExtension(annotations_pb2.http)
    rule = options.Extensions[annotations_pb2.http]
    path = getattr(rule, rule.WhichOneof("pattern"))
    assert path.startswith("/v1/")


def test_gateway_descriptor_set_holds_every_service():
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    described = {
        f"{file.package}.{service.name}" for file in descriptor_set.file for service in file.service
    }
    assert {service.full_name for service in SERVICES} <= described


def test_typescript_client_type_checks(generate_check):
    typecheck = subprocess.run(
        [str(TYPESCRIPT / "node_modules" / ".bin" / "tsc"), "--noEmit"],
        cwd=TYPESCRIPT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert typecheck.returncode == 0, typecheck.stdout + typecheck.stderr


ENVOY_TYPES = "type.googleapis.com/envoy.extensions"


def _transcoder_only_envoy_config(services):
    grpc_json_transcoder = {
        "name": "envoy.filters.http.grpc_json_transcoder",
        "typed_config": {
            "@type": f"{ENVOY_TYPES}.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
            "proto_descriptor": str(DESCRIPTOR_SET),
            "services": services,
        },
    }
    router = {
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": f"{ENVOY_TYPES}.filters.http.router.v3.Router"},
    }
    connection_manager = {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": f"{ENVOY_TYPES}.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "contract",
            "route_config": {
                "virtual_hosts": [
                    {
                        "name": "all",
                        "domains": ["*"],
                        "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "grpc"}}],
                    }
                ]
            },
            "http_filters": [grpc_json_transcoder, router],
        },
    }
    address = {"socket_address": {"address": "127.0.0.1", "port_value": 0}}
    return {
        "static_resources": {
            "listeners": [
                {"name": "http", "address": address, "filter_chains": [{"filters": [connection_manager]}]}
            ],
            "clusters": [
                {
                    "name": "grpc",
                    "type": "STATIC",
                    "load_assignment": {
                        "cluster_name": "grpc",
                        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
                    },
                }
            ],
        }
    }


def test_envoy_transcoder_accepts_descriptor_set(tmp_path):
    config = tmp_path / "envoy.json"
    services = [service.full_name for service in SERVICES]
    config.write_text(json.dumps(_transcoder_only_envoy_config(services)))
    envoy = Path(sys.executable).parent / "envoy"
    validation = subprocess.run(
        [str(envoy), "--mode", "validate", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert validation.returncode == 0, validation.stderr[-2000:]
