"""dbt_project/selectors.yml, the one list of what each run builds (issue 17 #3): every name drgflow.runs gives is
a described selector; the command line's two steps of a calibration or settlement build exactly the models the
DAG's task group builds and run the tests its test task runs; the DAGs' test task (`dbt test --selector NAME
--indirect-selection cautious`) runs the tests that `--select` of the same models did. dbt only (`dbt ls`, no
warehouse); that Cosmos renders the same models is in test_dags.py."""
from __future__ import annotations

import json

import pytest
import yaml

from drgflow import config, runs

#: the run kinds the DAGs render with Cosmos (the others are the command line's)
DAG_RUNS = (runs.GROUPING, runs.CALIBRATION, runs.SETTLEMENT_MONTHLY, runs.SETTLEMENT_ANNUAL)
TWO_STEP_RUNS = ((runs.CALIBRATION, runs.CALIBRATION_FIGURES),
                 (runs.SETTLEMENT_MONTHLY, runs.SETTLEMENT_MONTHLY_FIGURES),
                 (runs.SETTLEMENT_ANNUAL, runs.SETTLEMENT_ANNUAL_FIGURES))


def _selectors() -> dict[str, dict]:
    data = yaml.safe_load((config.dbt_project_dir() / "selectors.yml").read_text(encoding="utf-8"))
    return {s["name"]: s for s in data["selectors"]}


def _entries(definition):
    """Every dict of a selector definition, nested ones included."""
    if isinstance(definition, dict):
        yield definition
        for value in definition.values():
            yield from _entries(value)
    elif isinstance(definition, list):
        for value in definition:
            yield from _entries(value)


def _run_names() -> set[str]:
    """The selector names drgflow.runs gives (TEST_SELECTION is a dbt option, not a selector)."""
    return {v for k, v in vars(runs).items() if k.isupper() and isinstance(v, str) and k != "TEST_SELECTION"}


@pytest.fixture(scope="module")
def ls(tmp_path_factory):
    """dbt ls in-process: the unique_ids a selection picks (the profile is rendered, never connected)."""
    from dbt.cli.main import dbtRunner

    project = str(config.dbt_project_dir())
    target = tmp_path_factory.mktemp("dbt_ls")
    env = {"DRGFLOW_DB_HOST": "parse-only", "DRGFLOW_DB_USER": "parse-only", "DRGFLOW_DB_NAME": "parse-only",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}

    def _ls(*args: str) -> set[str]:
        with config.environ(env):
            result = dbtRunner().invoke(["--quiet", "--log-path", str(target / "logs"), "ls", *args,
                                         "--output", "json", "--output-keys", "unique_id",
                                         "--project-dir", project, "--profiles-dir", project,
                                         "--target-path", str(target)])
        assert result.success, result.exception
        return {json.loads(line)["unique_id"] for line in result.result}
    return _ls


def _models(ids: set[str]) -> set[str]:
    return {i for i in ids if i.startswith("model.")}


def _nodes(ids: set[str]) -> set[str]:
    """What a dbt command runs: sources are listed, never run."""
    return {i for i in ids if not i.startswith("source.")}


def test_every_run_is_a_described_selector_and_every_selector_is_used():
    selectors = _selectors()
    names = _run_names()
    assert names <= set(selectors), names - set(selectors)
    assert [n for n, s in selectors.items() if not str(s.get("description", "")).strip()] == []
    parts = {e["value"] for s in selectors.values() for e in _entries(s["definition"]) if e.get("method") == "selector"}
    assert set(selectors) <= names | parts, set(selectors) - names - parts


def test_selectors_are_written_so_cosmos_reads_them_as_dbt_does():
    """The rules at the top of selectors.yml: method/value entries, exclusions only where Cosmos never renders."""
    for name, selector in _selectors().items():
        entries = list(_entries(selector["definition"]))
        assert all(set(e) & {"method", "union", "intersection", "exclude"} for e in entries), name
        assert all(e["method"] != "fqn" or e["value"].startswith("drgflow.") for e in entries if "method" in e), name
        if name in DAG_RUNS:
            assert not [e for e in entries if "exclude" in e], f"{name}: Cosmos would move its exclude to the top"


def test_the_command_line_builds_the_models_the_dags_build(ls):
    views = _models(ls("--selector", "period_views"))
    # with stg_grouping_ref__scheme_years (the year's scheme) and int_dip_parameters_resolved (its DIP regions)
    assert len(views) == 7
    assert views <= _models(ls("--selector", runs.SETTLEMENT_INPUTS))
    for run, figures in TWO_STEP_RUNS:
        built = ls("--selector", figures)
        assert _models(built) | views == _models(ls("--selector", run)), run
        assert not _models(built) & views and not [i for i in built if i.startswith("unit_test.")], figures
    monthly, annual = (_models(ls("--selector", r)) for r in (runs.SETTLEMENT_MONTHLY, runs.SETTLEMENT_ANNUAL))
    assert "model.drgflow.settlement_annual" not in monthly
    assert {"model.drgflow.settlement_monthly", "model.drgflow.settlement_annual"} <= annual


def _tests(ids: set[str]) -> set[str]:
    return {i for i in ids if i.startswith("test.")}


def test_the_command_line_runs_the_tests_the_dags_run(ls):
    """The command line's two steps of a run (runs.build_args) run the data tests the DAG's test task runs:
    the period views' tests too, although the figures step does not build those views (period_view_tests)."""
    assert not _tests(ls("--selector", runs.SETTLEMENT_INPUTS))
    for run, figures in TWO_STEP_RUNS:
        dag = _tests(ls("--selector", run, "--indirect-selection", runs.TEST_SELECTION))
        cli = _tests(ls(*runs.build_args(figures)[1:]))     # the build's selection, without "build"
        assert cli == dag, (run, cli ^ dag)
        assert "test.drgflow.assert_base_weights_match_base_years" in cli, figures
    for run in (runs.SETTLEMENT_MONTHLY_FIGURES, runs.SETTLEMENT_ANNUAL_FIGURES):
        assert "test.drgflow.assert_case_points_one_row_per_case" in _tests(ls(*runs.build_args(run)[1:])), run


def test_the_dags_test_task_runs_the_tests_of_its_models(ls):
    """dbt applies a YAML selector's indirect selection per entry, never across a union's entries; the
    case_points entry (indirect_selection: buildable) keeps the tests that --select of the same models ran."""
    for run in DAG_RUNS:
        picked = _nodes(ls("--selector", run, "--indirect-selection", runs.TEST_SELECTION))
        names = sorted(i.split(".")[-1] for i in _models(picked))
        same = _nodes(ls("--select", *names, "--indirect-selection", runs.TEST_SELECTION))
        assert picked == same, (run, picked ^ same)
    assert "test.drgflow.assert_case_points_one_row_per_case" in ls(
        "--selector", runs.SETTLEMENT_MONTHLY, "--indirect-selection", "cautious")
