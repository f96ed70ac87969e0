"""StrategyService end to end: the strategies workspace over gRPC and REST."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2

from candlewire_client.v1 import strategy_pb2
from e2e_data_helpers import rest_violations, rpc_fails

BROKEN = "from candlewire import Strategy\n\n\nclass Broken(Strategy)\n    pass\n"
NO_GO_LONG = (
    "from candlewire import Strategy\n"
    "\n"
    "\n"
    "class NoGoLong(Strategy):\n"
    "    def should_long(self):\n"
    "        return False\n"
)


def create(client, name: str, template: str = "") -> strategy_pb2.Strategy:
    return client.strategies.CreateStrategy(strategy_pb2.CreateStrategyRequest(name=name, template=template))


def names(client, **filters) -> list[str]:
    response = client.strategies.ListStrategies(strategy_pb2.ListStrategiesRequest(**filters))
    return [strategy.name for strategy in response.strategies]


def validate(client, name: str, source: str | None = None) -> strategy_pb2.ValidateStrategyResponse:
    return client.strategies.ValidateStrategy(strategy_pb2.ValidateStrategyRequest(name=name, source=source))


def on_disk(server) -> list[str]:
    root = server.data_dir / "strategies"
    return sorted(entry.name for entry in root.iterdir()) if root.exists() else []


# --- the lifecycle -------------------------------------------------------------------------------


def test_create_starts_from_the_working_sma_crossover_template(client):
    strategy = create(client, "SmaCross")

    assert strategy.name == "SmaCross"
    assert "class SmaCross(Strategy):" in strategy.source
    assert strategy.create_time.seconds > 0 and strategy.update_time.seconds > 0
    assert validate(client, "SmaCross").valid


def test_get_reports_the_declared_hyperparameters(client):
    create(client, "WithParams")

    strategy = client.strategies.GetStrategy(strategy_pb2.GetStrategyRequest(name="WithParams"))

    fast = strategy.hyperparameters[0]
    assert (fast.name, fast.type, fast.min, fast.max) == ("fast_period", strategy_pb2.HYPERPARAMETER_TYPE_INT, 5, 50)
    assert fast.default.int_value == 20
    stop = strategy.hyperparameters[2]
    assert (stop.name, stop.type, stop.step, stop.default.float_value) == (
        "stop_atr_multiple", strategy_pb2.HYPERPARAMETER_TYPE_FLOAT, 0.5, 2.0,
    )


def test_list_omits_sources_and_filters_by_name(client):
    create(client, "ListedAlpha")
    create(client, "ListedBeta")

    response = client.strategies.ListStrategies(strategy_pb2.ListStrategiesRequest(name_contains="listed"))

    assert [s.name for s in response.strategies] == ["ListedAlpha", "ListedBeta"]
    assert all(s.source == "" for s in response.strategies)


def test_list_pages_by_name(client):
    create(client, "PagedA")
    create(client, "PagedB")

    first = client.strategies.ListStrategies(strategy_pb2.ListStrategiesRequest(name_contains="Paged", page_size=1))
    second = client.strategies.ListStrategies(
        strategy_pb2.ListStrategiesRequest(name_contains="Paged", page_size=1, page_token=first.next_page_token)
    )

    assert [s.name for s in first.strategies] == ["PagedA"]
    assert [s.name for s in second.strategies] == ["PagedB"] and second.next_page_token == ""


def test_update_saves_the_source_even_when_it_does_not_compile(client):
    create(client, "Broken")

    updated = client.strategies.UpdateStrategy(
        strategy_pb2.UpdateStrategyRequest(
            strategy=strategy_pb2.Strategy(name="Broken", source=BROKEN),
            update_mask=field_mask_pb2.FieldMask(paths=["source"]),
        )
    )

    assert updated.source == BROKEN
    assert client.strategies.GetStrategy(strategy_pb2.GetStrategyRequest(name="Broken")).source == BROKEN


def test_update_of_other_fields_is_invalid_argument(client):
    create(client, "Renamed")

    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        client.strategies.UpdateStrategy(
            strategy_pb2.UpdateStrategyRequest(
                strategy=strategy_pb2.Strategy(name="Renamed"), update_mask=field_mask_pb2.FieldMask(paths=["name"])
            )
        )

    assert "update_mask" in failure["violations"]


def test_validate_reports_the_syntax_error_line(client):
    response = validate(client, "Broken", BROKEN)

    assert not response.valid
    (diagnostic,) = response.diagnostics
    assert (diagnostic.line, diagnostic.severity) == (4, strategy_pb2.DIAGNOSTIC_SEVERITY_ERROR)
    assert "syntax error" in diagnostic.message


def test_validate_reports_a_missing_go_long_at_the_class_line(client):
    response = validate(client, "NoGoLong", NO_GO_LONG)

    assert not response.valid
    assert [(d.line, d.severity) for d in response.diagnostics] == [(4, strategy_pb2.DIAGNOSTIC_SEVERITY_ERROR)]
    assert "go_long" in response.diagnostics[0].message


def test_validate_without_source_checks_the_stored_one(client):
    create(client, "StoredBroken")
    client.strategies.UpdateStrategy(
        strategy_pb2.UpdateStrategyRequest(strategy=strategy_pb2.Strategy(name="StoredBroken", source="x = (\n"))
    )

    assert not validate(client, "StoredBroken").valid


def test_fork_copies_under_a_new_name_with_the_class_renamed(client):
    create(client, "Original")

    fork = client.strategies.ForkStrategy(strategy_pb2.ForkStrategyRequest(name="Original", new_name="OriginalCopy"))

    assert "class OriginalCopy(Strategy):" in fork.source
    assert validate(client, "OriginalCopy").valid
    assert {"Original", "OriginalCopy"} <= set(names(client, name_contains="Original"))


def test_delete_removes_the_strategy(client, server):
    create(client, "Doomed")

    client.strategies.DeleteStrategy(strategy_pb2.DeleteStrategyRequest(name="Doomed"))

    assert "Doomed" not in on_disk(server)
    with rpc_fails(grpc.StatusCode.NOT_FOUND):
        client.strategies.GetStrategy(strategy_pb2.GetStrategyRequest(name="Doomed"))


# --- errors --------------------------------------------------------------------------------------


def test_creating_an_existing_name_is_already_exists(client):
    create(client, "Twice")

    with rpc_fails(grpc.StatusCode.ALREADY_EXISTS):
        create(client, "Twice")


def test_forking_onto_an_existing_name_is_already_exists(client):
    create(client, "ForkSource")
    create(client, "ForkTarget")

    with rpc_fails(grpc.StatusCode.ALREADY_EXISTS):
        client.strategies.ForkStrategy(strategy_pb2.ForkStrategyRequest(name="ForkSource", new_name="ForkTarget"))


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.strategies.GetStrategy(strategy_pb2.GetStrategyRequest(name="Missing")),
        lambda c: c.strategies.DeleteStrategy(strategy_pb2.DeleteStrategyRequest(name="Missing")),
        lambda c: c.strategies.ForkStrategy(strategy_pb2.ForkStrategyRequest(name="Missing", new_name="Other")),
        lambda c: c.strategies.ValidateStrategy(strategy_pb2.ValidateStrategyRequest(name="Missing")),
        lambda c: c.strategies.UpdateStrategy(
            strategy_pb2.UpdateStrategyRequest(strategy=strategy_pb2.Strategy(name="Missing", source="x = 1\n"))
        ),
    ],
    ids=["get", "delete", "fork", "validate", "update"],
)
def test_unknown_strategies_are_not_found(client, call):
    with rpc_fails(grpc.StatusCode.NOT_FOUND):
        call(client)


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "con", "class", "1st", ""])
def test_path_trick_names_are_rejected_and_nothing_is_written(client, server, name):
    before = on_disk(server)

    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        create(client, name)

    assert "name" in failure["violations"]
    assert on_disk(server) == before
    assert not (server.data_dir / "escape").exists()


def test_a_bad_fork_target_names_new_name(client):
    create(client, "ForkMe")

    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        client.strategies.ForkStrategy(strategy_pb2.ForkStrategyRequest(name="ForkMe", new_name="../ForkMe2"))

    assert list(failure["violations"]) == ["new_name"]


# --- REST ----------------------------------------------------------------------------------------


def test_rest_create_patch_validate_and_delete(rest):
    created = rest.post("/v1/strategies", json={"name": "RestStrategy"})
    assert created.status_code == 200, created.text
    assert created.json()["hyperparameters"][0]["name"] == "fast_period"

    patched = rest.patch("/v1/strategies/RestStrategy", json={"name": "RestStrategy", "source": BROKEN})
    assert patched.status_code == 200, patched.text

    validated = rest.post("/v1/strategies/RestStrategy:validate", json={})
    assert validated.json()["valid"] is False
    assert validated.json()["diagnostics"][0]["line"] == 4

    assert rest.delete("/v1/strategies/RestStrategy").status_code == 200
    assert rest.get("/v1/strategies/RestStrategy").status_code == 404


def test_rest_rejects_an_invalid_name_naming_the_field(rest):
    response = rest.post("/v1/strategies", json={"name": "../../etc"})

    assert response.status_code == 400
    assert "name" in rest_violations(response)
