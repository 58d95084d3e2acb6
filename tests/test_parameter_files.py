"""Parameters a bureau loads (issue 20 item 1): dip_parameters.csv and drg_parameters.csv per settlement year over
the seeds' defaults, refused rows named by file and row, the loaded rows a run used recorded with its parameters,
and the regions paid by DIP left out of the DRG figures."""
from __future__ import annotations

import pytest

from conftest import query
from drgflow import db, loader
from drgflow.dip import runs as dip_runs
from drgflow.errors import LoadError, UserError
from drgflow.settlement import dbt_vars
from drgflow.settlement.inputs import check_parameters
from drgflow.transform import run_dbt
from test_dip_support import write_csv
from test_grouping_support import load_cases

HEADER = ("settlement_year", "parameter", "value")


def _views(url: str, year: int) -> None:
    run_dbt(["seed"], url=url)
    run_dbt(["run", "--select", "path:models/staging", "int_parameters_resolved", "int_dip_parameters_resolved",
             "int_cases_in_scope"], url=url, vars=dbt_vars(year, None))


@pytest.fixture
def city(fresh_url, tmp_path):
    cases = [{"case_id": f"A{i}", "region_code": "330101", "dx_codes": "K35.800"} for i in range(3)]
    cases += [{"case_id": f"B{i}", "region_code": "330102", "dx_codes": "K35.800"} for i in range(2)]
    load_cases(fresh_url, tmp_path, cases)
    return fresh_url


def test_a_loaded_drg_parameter_applies_to_its_year_and_is_recorded(city, tmp_path):
    path = write_csv(tmp_path / "drg_parameters.csv", HEADER, [(2024, "reserve_ratio", "0.10"),
                                                                (2024, "trim_min_n", "25")])
    loader.load_paths([path], url=city, progress=False)
    _views(city, 2024)
    reserve, trim_min_n, params = query(city, "select reserve_ratio, trim_min_n, parameters"
                                              " from intermediate.int_parameters_resolved")[0]
    assert (str(reserve), trim_min_n) == ("0.10", 25)
    assert len(params["loaded_parameter_rows"]) == 2
    _views(city, 2025)
    reserve, params = query(city, "select reserve_ratio, parameters from intermediate.int_parameters_resolved")[0]
    assert str(reserve) == "0.05" and "loaded_parameter_rows" not in params     # the seed's default


def test_an_unusable_drg_parameter_row_stops_the_run_naming_file_and_row(city, tmp_path):
    path = write_csv(tmp_path / "drg_parameters_2024.csv", HEADER, [(2024, "reserve_ratio", "0.10"),
                                                                     (2024, "reserve_ratio_typo", "1"),
                                                                     (2024, "trim_min_n", "twenty")])
    loader.load_paths([path], url=city, progress=False)
    _views(city, 2024)
    with db.connect(city) as conn, pytest.raises(UserError) as err:
        check_parameters(conn)
    text = str(err.value)
    assert "drg_parameters_2024.csv: row" in text and "unknown parameter reserve_ratio_typo" in text
    assert "not a whole number: twenty" in text


def test_an_unusable_dip_parameter_row_stops_the_dip_run(city, tmp_path):
    path = write_csv(tmp_path / "dip_parameters.csv", HEADER, [(2024, "dip_regions", "330102"),
                                                                (2024, "core_min_n", "fifteen")])
    loader.load_paths([path], url=city, progress=False)
    with pytest.raises(UserError, match=r"dip_parameters.csv: row \d+: core_min_n: not a whole number: fifteen"):
        dip_runs.group(2024, city)


def test_a_parameter_file_needs_a_dip_or_drg_name(city, tmp_path):
    path = write_csv(tmp_path / "parameters.csv", HEADER, [(2024, "reserve_ratio", "0.1")])
    with pytest.raises(LoadError, match="must start with dip_"):
        loader.load_paths([path], url=city, progress=False)


def test_a_region_paid_by_dip_leaves_the_drg_figures(city, tmp_path):
    _views(city, 2024)
    assert query(city, "select count(*) from intermediate.int_cases_in_scope")[0][0] == 5
    loader.load_paths([write_csv(tmp_path / "dip_parameters.csv", HEADER, [(2024, "dip_regions", "330102")])],
                      url=city, progress=False)
    _views(city, 2024)
    regions = query(city, "select region_code, count(*) from intermediate.int_cases_in_scope group by 1")
    assert regions == [("330101", 3)]
    _views(city, 2025)      # the parameter row is for 2024 only
    assert query(city, "select count(*) from intermediate.int_cases_in_scope")[0][0] == 5


def test_a_local_dip_catalogue_needs_base_period_cases_and_an_import_needs_its_file(city, tmp_path):
    loader.load_paths([write_csv(tmp_path / "dip_parameters.csv", HEADER, [(2024, "dip_regions", "330102")])],
                      url=city, progress=False)
    _views(city, 2024)   # staging.stg_raw__cases exists, as after any earlier run
    with pytest.raises(UserError, match=r"no case in the base years"):
        dip_runs.group(2024, city)
    loader.load_paths([write_csv(tmp_path / "dip_parameters_import.csv", HEADER,
                                 [(2024, "catalogue_source", "import")])], url=city, progress=False)
    with pytest.raises(UserError, match=r"none is imported: run `drgflow dip catalogue import FILE --year 2024`"):
        dip_runs.group(2024, city)


def test_the_dip_commands_refuse_in_one_sentence(city, tmp_path, use_database, capsys):
    from drgflow.cli import main

    use_database(city)
    loader.load_paths([write_csv(tmp_path / "dip_parameters.csv", HEADER, [(2024, "dip_regions", "330102"),
                                                                            (2024, "catalogue_source", "import")])],
                      url=city, progress=False)
    assert main(["dip", "catalogue", "build", "--year", "2024"]) == 2
    err = capsys.readouterr().err
    assert "takes its DIP catalogue from 'import'" in err and "Traceback" not in err
    bad = tmp_path / "catalogue.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    assert main(["dip", "catalogue", "import", str(bad), "--year", "2024"]) == 2
    err = capsys.readouterr().err
    assert "catalogues are not loaded: run `drgflow terminology import`" in err and "Traceback" not in err
    from drgflow.schemes.terminology import import_terminology

    import_terminology(city)
    assert main(["dip", "catalogue", "import", str(bad), "--year", "2024"]) == 2
    err = capsys.readouterr().err
    assert "catalogue.xlsx: not an .xlsx workbook" in err and "Traceback" not in err
