"""The strategies workspace on disk and the static checks of strategy source (no server)."""

from __future__ import annotations

import os
import textwrap

import pytest

from candlewire.errors import AlreadyExists, InvalidArgument, NotFound
from candlewire.strategies.diagnostics import declared_hyperparameters, validate_source
from candlewire.strategies.templates import render
from candlewire.strategies.workspace import StrategySnapshot, StrategyWorkspace, rename_class, validate_name


@pytest.fixture
def workspace(tmp_path) -> StrategyWorkspace:
    return StrategyWorkspace(tmp_path)


def source(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems(text: str, name: str = "Demo") -> list[tuple[int, str]]:
    return [(d.line, d.severity) for d in validate_source(source(text), name)]


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["SmaCross", "_private", "a", "X" * 64, "Trend_2"])
def test_identifier_like_names_are_accepted(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "../x", "a/b", "a\\b", ".hidden", "1abc", "X" * 65, "class", "con", "LPT1", "__pycache__", "a b", "é"]
)
def test_path_tricks_keywords_and_device_names_are_rejected_naming_the_field(name):
    with pytest.raises(InvalidArgument) as raised:
        validate_name(name, "new_name")

    assert list(raised.value.violations) == ["new_name"]


# --- the workspace -----------------------------------------------------------------------------


def test_create_writes_jesse_layout_with_the_class_named_after_the_strategy(workspace, tmp_path):
    workspace.create("SmaCross")

    text = (tmp_path / "strategies" / "SmaCross" / "__init__.py").read_text()
    assert "class SmaCross(Strategy):" in text
    assert "from candlewire import Strategy" in text


def test_the_default_template_is_a_valid_strategy_with_readable_hyperparameters():
    text = render("", "SmaCross")

    assert validate_source(text, "SmaCross") == []
    assert [spec["name"] for spec in declared_hyperparameters(text, "SmaCross")] == [
        "fast_period", "slow_period", "stop_atr_multiple", "reward_risk_ratio", "risk_fraction",
    ]


def test_unknown_template_is_rejected_and_creates_nothing(workspace, tmp_path):
    with pytest.raises(InvalidArgument) as raised:
        workspace.create("SmaCross", "no_such_template")

    assert "template" in raised.value.violations
    assert not (tmp_path / "strategies" / "SmaCross").exists()


def test_creating_an_existing_name_in_any_case_is_already_exists(workspace):
    workspace.create("SmaCross")

    with pytest.raises(AlreadyExists):
        workspace.create("smacross")


def test_list_is_sorted_filtered_and_paged(workspace):
    for name in ("Beta", "Alpha", "Gamma", "AlphaTwo"):
        workspace.create(name)

    first, token = workspace.list(name_contains="ALPHA", page_size=1)
    second, last_token = workspace.list(name_contains="ALPHA", page_size=1, page_token=token)

    assert [s.name for s in workspace.list()[0]] == ["Alpha", "AlphaTwo", "Beta", "Gamma"]
    assert [s.name for s in first] == ["Alpha"] and [s.name for s in second] == ["AlphaTwo"]
    assert last_token == ""


def test_list_skips_directories_without_source_and_hidden_entries(workspace, tmp_path):
    workspace.create("Real")
    (tmp_path / "strategies" / "Empty").mkdir()
    (tmp_path / "strategies" / ".staging-x").mkdir()

    assert [s.name for s in workspace.list()[0]] == ["Real"]


def test_save_replaces_the_source_and_keeps_the_creation_time(workspace):
    created = workspace.create("SmaCross")

    saved = workspace.save("SmaCross", "broken (")

    assert workspace.source("SmaCross") == "broken ("
    assert saved.create_time_ns == created.create_time_ns
    assert saved.size_bytes == len("broken (")


def test_save_leaves_no_temporary_files(workspace, tmp_path):
    workspace.create("SmaCross")

    workspace.save("SmaCross", "x = 1\n")

    assert os.listdir(tmp_path / "strategies" / "SmaCross") == ["__init__.py"]
    assert os.listdir(tmp_path / "strategies") == ["SmaCross"]


def test_save_of_an_unknown_strategy_is_not_found(workspace):
    with pytest.raises(NotFound):
        workspace.save("Missing", "x = 1\n")


def test_fork_copies_every_file_and_renames_the_class(workspace, tmp_path):
    workspace.create("SmaCross")
    (tmp_path / "strategies" / "SmaCross" / "helpers.py").write_text("LEVEL = 3\n")

    workspace.fork("SmaCross", "SmaCrossFast")

    forked = tmp_path / "strategies" / "SmaCrossFast"
    assert "class SmaCrossFast(Strategy):" in (forked / "__init__.py").read_text()
    assert (forked / "helpers.py").read_text() == "LEVEL = 3\n"
    assert "class SmaCross(Strategy):" in workspace.source("SmaCross")


def test_rename_class_touches_only_the_class_statement():
    text = 'class A(Strategy):\n    """class A is great"""\n    name = "A"\n'

    assert rename_class(text, "A", "B") == 'class B(Strategy):\n    """class A is great"""\n    name = "A"\n'


def test_fork_onto_an_existing_name_is_already_exists(workspace):
    workspace.create("One")
    workspace.create("Two")

    with pytest.raises(AlreadyExists):
        workspace.fork("One", "Two")


def test_delete_removes_the_directory(workspace, tmp_path):
    workspace.create("SmaCross")

    workspace.delete("SmaCross")

    assert os.listdir(tmp_path / "strategies") == []
    with pytest.raises(NotFound):
        workspace.source("SmaCross")


def test_a_symlink_leading_out_of_the_workspace_is_refused(workspace, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "__init__.py").write_text("secret = 1\n")
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "Escape").symlink_to(outside)

    with pytest.raises(InvalidArgument):
        workspace.source("Escape")
    assert workspace.list()[0] == []


def test_a_source_file_linking_out_of_its_strategy_is_refused(workspace, tmp_path):
    workspace.create("Linked")
    secret = tmp_path / "secret.txt"
    secret.write_text("password\n")
    source_file = tmp_path / "strategies" / "Linked" / "__init__.py"
    source_file.unlink()
    source_file.symlink_to(secret)

    with pytest.raises(InvalidArgument):
        workspace.source("Linked")


def test_snapshot_returns_the_source_a_run_would_use(workspace):
    workspace.create("SmaCross")
    workspace.save("SmaCross", "# version 2\n")

    assert workspace.snapshot("SmaCross") == StrategySnapshot("# version 2\n", {})


def test_snapshot_holds_every_helper_module_of_the_strategy_folder(workspace, tmp_path):
    workspace.create("SmaCross")
    folder = tmp_path / "strategies" / "SmaCross"
    (folder / "signals.py").write_text("FAST = 10\n")
    (folder / "lib").mkdir()
    (folder / "lib" / "__init__.py").write_text("")
    (folder / "lib" / "sizing.py").write_text("RISK = 0.01\n")
    (folder / "notes.txt").write_text("not code\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "stale.py").write_text("")

    snapshot = workspace.snapshot("SmaCross")

    assert snapshot.helper_files == {"lib/__init__.py": "", "lib/sizing.py": "RISK = 0.01\n", "signals.py": "FAST = 10\n"}


def test_snapshot_leaves_out_helpers_linked_from_outside_the_folder(workspace, tmp_path):
    workspace.create("SmaCross")
    secret = tmp_path / "secret.py"
    secret.write_text("PASSWORD = 'x'\n")
    (tmp_path / "strategies" / "SmaCross" / "leak.py").symlink_to(secret)

    assert workspace.snapshot("SmaCross").helper_files == {}


def test_snapshot_of_a_strategy_with_a_binary_helper_names_the_file(workspace, tmp_path):
    workspace.create("SmaCross")
    (tmp_path / "strategies" / "SmaCross" / "blob.py").write_bytes(b"\xff\xfe")

    with pytest.raises(InvalidArgument) as raised:
        workspace.snapshot("SmaCross", "routes[0].strategy")

    assert "blob.py" in raised.value.violations["routes[0].strategy"]


# --- static checks -----------------------------------------------------------------------------


def test_syntax_error_reports_line_and_column():
    (diagnostic,) = validate_source("from candlewire import Strategy\n\nclass Demo(Strategy:\n    pass\n", "Demo")

    assert (diagnostic.line, diagnostic.column, diagnostic.severity) == (3, 20, "error")


def test_errors_only_a_full_compile_finds_are_reported():
    assert problems("return 1\n") == [(1, "error")]


def test_missing_go_long_is_reported_at_the_class_line():
    diagnostics = validate_source(
        source(
            """
            from candlewire import Strategy


            class Demo(Strategy):
                def should_long(self):
                    return False
            """
        ),
        "Demo",
    )

    assert [(d.line, d.severity) for d in diagnostics] == [(4, "error")]
    assert "go_long" in diagnostics[0].message


def test_source_without_a_strategy_class_is_an_error():
    assert problems("x = 1\n") == [(1, "error")]


def test_a_strategy_class_named_unlike_the_strategy_is_an_error():
    text = """
        class Other(Strategy):
            def should_long(self): return False
            def go_long(self): pass
        """

    assert problems(text) == [(1, "error")]


def test_should_short_without_go_short_is_an_error_at_should_short():
    text = """
        class Demo(Strategy):
            def should_long(self): return False
            def go_long(self): pass
            def should_short(self): return False
        """

    assert problems(text) == [(4, "error")]


def test_go_short_without_should_short_is_a_warning():
    text = """
        class Demo(Strategy):
            def should_long(self): return False
            def go_long(self): pass
            def go_short(self): pass
        """

    assert problems(text) == [(4, "warning")]


def test_jesse_style_hyperparameters_are_read_without_running_code():
    text = source(
        """
        class Demo(Strategy):
            def hyperparameters(self):
                return [
                    {"name": "period", "type": int, "min": 5, "max": 50, "default": 20},
                    {"name": "mode", "type": "categorical", "options": ["fast", "slow"], "default": "fast"},
                ]
        """
    )

    assert declared_hyperparameters(text, "Demo") == [
        {"name": "period", "type": "int", "min": 5, "max": 50, "default": 20},
        {"name": "mode", "type": "categorical", "options": ["fast", "slow"], "default": "fast"},
    ]


def test_computed_hyperparameters_are_an_info_not_an_error():
    text = """
        class Demo(Strategy):
            def should_long(self): return False
            def go_long(self): pass
            def hyperparameters(self):
                return make_them()
        """

    assert problems(text) == [(5, "info")]

