"""DIP part 1 (issue 20) against the independent oracle (tests/oracle/dip_v1.py, from dip-spec alone): a generated
city of four years, one of its two regions paid by DIP, every mart of part 1 compared row by row:
dip_catalogue (a local build from the base period, and the imported 平顶山 catalogue), dip_case_grouping,
dip_level_coefficients, dip_aux_coefficients, dip_group_year_stats, dip_grouping_quality, dip_hospital_performance.
The oracle gets exactly the accepted case versions the warehouse holds (raw rows of staging.stg_raw__cases).
"""
from __future__ import annotations

import csv
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import create_database, drop_database, query
from drgflow import generate, loader
from drgflow.dip import catalogue as dip_catalogue
from drgflow.dip import runs as dip_runs
from drgflow.grouping import ensure_reference
from oracle import dip_v1
from test_dip_support import dip_parameters

YEARS = [2021, 2022, 2023, 2024]
#: small enough thresholds that the generated city forms core groups, related splits and triggered subtypes
PARAMS = {"core_min_n": "8", "comp_min_n": "8", "aux_min_group_n": "20", "aux_min_subtype_n": "5",
          "aux_min_cv_reduction": "0.02", "coef_min_n": "20"}
#: mart -> key columns (after settlement_year)
KEYS = {
    "dip_catalogue": ("code",),
    "dip_case_grouping": ("hospital_id", "case_id"),
    "dip_level_coefficients": ("stratum",),
    "dip_aux_coefficients": ("code", "subtype"),
    "dip_group_year_stats": ("year", "code"),
    "dip_grouping_quality": ("year",),
    "dip_hospital_performance": ("year", "hospital_id"),
}
#: columns computed without rounding: compared to a relative 1e-9 (the oracle computes at 50 digits)
TOLERANT = {"mean_cost", "cv", "mean_los", "reference_mean", "raw", "cv_g", "cv_split", "median_cost", "sd_cost",
            "share_high", "share_low", "drug_score", "material_score", "core_rate", "basic_rate",
            "comprehensive_rate", "unmatched_rate", "invalid_rate", "grouped_rate", "conservative_share", "cmi",
            "cost_index", "time_index"}
SKIPPED = {"settlement_year", "trace", "total_score", "dip_vs_ffs"}


@pytest.fixture(scope="module")
def city(shared_dir, tmp_path_factory):
    if shared_dir is None or not (shared_dir / "dip").is_dir():
        pytest.skip("../shared (terminology, CHS-DRG-1.1, the 平顶山 catalogue) is not on this machine")
    folder = tmp_path_factory.mktemp("dipcity")
    generate.generate_city(folder, years=YEARS, cases_per_year=4000, hospitals=10, regions=2, seed=5,
                           defect_rate=0.0, split="year", scheme_dir=shared_dir / "schemes" / "CHS-DRG-1.1")
    name, url = create_database("drgflow_dipcal")
    ensure_reference(url, "CHS-DRG-1.1")
    loader.load_paths([folder], url=url, progress=False)
    with (folder / "hospitals.csv").open(encoding="utf-8") as f:
        hospitals = list(csv.DictReader(f))
    region = Counter(h["region_code"] for h in hospitals).most_common(1)[0][0]
    yield {"url": url, "folder": folder, "region": region, "hospitals": hospitals, "shared": shared_dir}
    drop_database(name)


def _accepted_cases(url: str) -> list[dict]:
    """The accepted latest case versions as the raw text rows the loader received."""
    cols = [r[0] for r in query(url, "select column_name from information_schema.columns where table_schema = 'raw'"
                                     " and table_name = 'cases' order by ordinal_position")]
    rows = query(url, "select r.* from raw.cases as r join staging.stg_raw__cases as s"
                      " on s.batch_id = r.batch_id and s.source_row = r.source_row")
    return [{k: ("" if v is None else str(v)) for k, v in zip(cols, row, strict=True)} for row in rows]


def _marts(url: str, year: int) -> dict[str, dict[tuple, dict]]:
    out = {}
    for mart, keys in KEYS.items():
        with_cols = query(url, f"select * from marts.{mart} where settlement_year = %s", (year,))
        names = [r[0] for r in query(url, "select column_name from information_schema.columns where table_schema ="
                                          " 'marts' and table_name = %s order by ordinal_position", (mart,))]
        rows = [dict(zip(names, r, strict=True)) for r in with_cols]
        out[mart] = {tuple(str(r[k]) for k in keys): r for r in rows}
    return out


def _same(column: str, ours, theirs) -> bool:
    if ours is None or theirs is None or theirs == "":
        return (ours in (None, "")) == (theirs in (None, ""))
    if isinstance(theirs, bool) or isinstance(ours, bool):
        return bool(ours) == bool(theirs)
    try:
        a, b = Decimal(str(ours)), Decimal(str(theirs))
    except ArithmeticError:
        return str(ours) == str(theirs)
    if column in TOLERANT or column.startswith("ratio_"):
        return abs(a - b) <= Decimal("1e-9") * max(abs(a), abs(b), Decimal(1))
    return a == b


def _compare(ours: dict, theirs: dict[str, list[dict]]) -> list[str]:
    problems = []
    for mart, keys in KEYS.items():
        expected = {tuple(str(r[k]) for k in keys): r for r in theirs[mart]}
        got = ours[mart]
        if set(expected) != set(got):
            missing, extra = sorted(set(expected) - set(got))[:5], sorted(set(got) - set(expected))[:5]
            problems.append(f"{mart}: keys differ: oracle only {missing}, drgflow only {extra} "
                            f"({len(expected)} vs {len(got)})")
            continue
        for key, want in expected.items():
            have = got[key]
            for col, value in want.items():
                if col in SKIPPED or col not in have:
                    continue
                if not _same(col, have[col], value):
                    problems.append(f"{mart} {key} {col}: oracle {value!r}, drgflow {have[col]!r}")
    return problems


def _run(city, year: int, params: dict, catalogue) -> list[str]:
    url = city["url"]
    rows = [(year, "dip_regions", city["region"]), *((year, k, v) for k, v in params.items())]
    loader.load_paths([dip_parameters(city["folder"] / f"p{year}", rows)], url=url, progress=False)
    dip_runs.group(year, url)
    term = dip_v1.load_terminology(city["shared"])
    or_list = dip_v1.load_or_list(city["shared"] / "schemes" / "CHS-DRG-1.1")
    theirs = dip_v1.compute(year, _accepted_cases(url), city["hospitals"], catalogue,
                            params={"dip_regions": city["region"], **params}, term=term, or_list=or_list)
    ours = _marts(url, year)
    assert len(ours["dip_case_grouping"]) > 1000
    return _compare(ours, theirs)


def test_a_local_catalogue_and_its_statistics_match_the_oracle(city):
    problems = _run(city, 2024, {**PARAMS, "catalogue_source": "local"}, None)
    assert not problems, f"{len(problems)} differences:\n" + "\n".join(problems[:30])
    cat = query(city["url"], "select group_type, count(*), count(*) filter (where related_px <> '')"
                             " from marts.dip_catalogue where settlement_year = 2024 group by 1")
    assert {r[0] for r in cat} == {"core", "comprehensive"}, cat
    assert query(city["url"], "select count(*) from marts.dip_aux_coefficients where settlement_year = 2024"
                              " and triggered")[0][0] > 0


def test_the_imported_catalogue_and_its_statistics_match_the_oracle(city):
    xlsx = next((city["shared"] / "dip" / "pingdingshan-2025").glob("*.xlsx"))
    dip_catalogue.import_catalogue(Path(xlsx), 2025, city["url"])
    term = dip_v1.load_terminology(city["shared"])
    problems = _run(city, 2025, {**PARAMS, "catalogue_source": "import"}, dip_v1.import_catalogue(xlsx, 2025, term))
    assert not problems, f"{len(problems)} differences:\n" + "\n".join(problems[:30])


def test_dbt_unit_tests_with_the_worked_examples_pass(city):
    """dip-spec §13.1 (λ_3 = 1.0942), §13.2 (a = 1.4583 from the example's 700 cases, high under dip2), §13.3 (low),
    and hand-made bounds (clamping, coef_min_n, the aux thresholds, dip2/dip3 strictness): the yml unit tests."""
    from drgflow.transform import run_dbt

    if not query(city["url"], "select to_regclass('intermediate.int_dip_cases_adjusted') is not null")[0][0]:
        _run(city, 2024, {**PARAMS, "catalogue_source": "local"}, None)    # the fixtures' relations must exist
    result = run_dbt(["test", "--select", "test_type:unit,path:models/intermediate/dip",
                      "test_type:unit,path:models/marts/dip"], url=city["url"],
                     vars=dip_runs.dbt_vars(2024))
    units = [r for r in result.results if str(r.node.resource_type).endswith("unit_test")]
    names = {r.node.name for r in units}
    assert {"int_dip_level_coefficients_worked_example_13_1", "int_dip_aux_coefficients_worked_example_13_2",
            "int_dip_cases_adjusted_worked_examples_13"} <= names, names
    assert len(units) >= 11 and all(str(r.status).lower().endswith("pass") for r in units)
