"""DIP runs of a settlement year: check the year's parameters and catalogue, then build the DIP marts with dbt
(runs.DIP: the marts.dip_* of part 1; runs.DIP_GROUPING: marts.dip_case_grouping alone)."""
from __future__ import annotations

from typing import Any

from drgflow import audit, config, db, runs
from drgflow.errors import UserError
from drgflow.transform import run_dbt

#: what the checks of a DIP run read, built before it: the parameter seeds, the loaded parameter rows and their
#: resolution for the year
PARAMETER_MODELS = ("dip_parameter_defaults", "policy_parameters", "policy_high_ratio_tiers", "policy_assessment_bands",
                    "policy_bed_day_categories", "policy_per_diem_standards", "stg_raw__dip_parameters",
                    "stg_raw__drg_parameters", "stg_grouping_ref__scheme_years", "int_parameters_resolved",
                    "int_dip_parameters_resolved")


def dbt_vars(year: int) -> dict[str, Any]:
    """The dbt vars of a DIP run: the settlement year (and the environment's scheme, which the DRG policy view
    the DIP parameters fall back to reads)."""
    return {"settlement_year": int(year), "settlement_month": None, "scheme_version": config.default_scheme_version()}


def parameter_problems(year: int, url: str) -> list[str]:
    """Loaded dip_parameters.csv rows of `year` (or without a usable year) that cannot be used, one line each
    naming the file, row and rule."""
    with db.connect(url) as conn:
        if not db.relation_exists(conn, "staging.stg_raw__dip_parameters"):
            return []
        rows = conn.execute(
            "select coalesce(file_name, 'batch ' || batch_id), source_row, parameter, problem"
            " from staging.stg_raw__dip_parameters"
            " where problem is not null and (settlement_year = %s or settlement_year is null)"
            " order by batch_id, source_row", (year,)).fetchall()
    return [f"{name}: row {row}: {parameter or '(no parameter)'}: {problem}" for name, row, parameter, problem in rows]


def check_year(year: int, url: str, require_source: str | None = None) -> dict:
    """The resolved parameters of `year` that decide the run; UserError when a loaded parameter row is unusable or
    the year's catalogue is missing."""
    problems = parameter_problems(year, url)
    if problems:
        raise UserError(f"dip_parameters for {year} refused ({len(problems)} row(s)):\n  " + "\n  ".join(problems[:10]))
    with db.connect(url) as conn:
        stale = conn.execute("select exists (select 1 from ref.dx_variant_map)"
                             " and not exists (select 1 from ref.dx_variant_map where listed_code is not null)"
                             ).fetchone()[0]
        if stale:
            raise UserError("the terminology was imported by an older drgflow that did not keep the variant map as "
                            "the file writes it (DIP applies it so, dip-spec §12): run `drgflow terminology import`")
        row = conn.execute("select dip_regions, catalogue_source, loaded_rows"
                           " from intermediate.int_dip_parameters_resolved").fetchone()
        regions, source, loaded = [r for r in row[0].split("|") if r], row[1], row[2]
        if source not in ("import", "local"):
            raise UserError(f"dip_parameters {year}: catalogue_source must be import or local, not {source!r}")
        if require_source and source != require_source:
            raise UserError(f"settlement year {year} takes its DIP catalogue from {source!r} (catalogue_source), not "
                            f"{require_source!r}: load a dip_parameters.csv row `{year},catalogue_source,"
                            f"{require_source}` first")
        if source == "import" and not conn.execute(
                "select 1 from ref.dip_catalogue_imports where settlement_year = %s", (year,)).fetchone():
            raise UserError(f"settlement year {year} takes its DIP catalogue from an import (catalogue_source = "
                            f"import) but none is imported: run `drgflow dip catalogue import FILE --year {year}`")
        if source == "local" and regions and db.relation_exists(conn, "staging.stg_raw__cases") and not conn.execute(
                "select 1 from staging.stg_raw__cases as c, intermediate.int_dip_parameters_resolved as p"
                " where c.region_code = any(%s) and c.settle_year between p.base_year_first"
                " and p.base_year_last limit 1", (regions,)).fetchone():
            raise UserError(f"settlement year {year} builds its DIP catalogue from the base period (catalogue_source ="
                            f" local) but the DIP regions ({', '.join(regions)}) have no case in the base years: load"
                            f" them, or import a catalogue (`drgflow dip catalogue import FILE --year {year}`)")
    return {"settlement_year": year, "dip_regions": regions, "catalogue_source": source,
            "loaded_parameter_rows": [r for r in loaded.split("|") if r]}


def group(year: int, url: str | None = None, grouping_only: bool = False, require_source: str | None = None) -> dict:
    """Build the DIP catalogue, grouping, scores, coefficients and statistics of settlement year `year` (with
    grouping_only: the grouping alone, marts.dip_case_grouping); counts by group status."""
    url = url or db.database_url()
    db.init_warehouse(url)
    # the parameter seeds and views first, so the checks read this year's parameters (one dbt invocation: each
    # costs seconds of start-up)
    run_dbt(["build", "--select", *PARAMETER_MODELS, "--indirect-selection", runs.TEST_SELECTION], url=url,
            vars=dbt_vars(year))
    summary = check_year(year, url, require_source)
    if grouping_only:
        # as `drgflow group`: the models, without their tests (the whole DIP run tests them)
        run_dbt(["run", "--selector", runs.DIP_GROUPING], url=url, vars=dbt_vars(year))
    else:
        run_dbt(["build", "--selector", runs.DIP, "--indirect-selection", runs.TEST_SELECTION], url=url,
                vars=dbt_vars(year))
    with db.connect(url) as conn:
        counts = dict(conn.execute("select group_status, count(*) from marts.dip_case_grouping"
                                   " where settlement_year = %s group by 1", (year,)).fetchall())
        groups = conn.execute("select count(*) from intermediate.int_dip_catalogue_resolved").fetchone()[0]
        summary.update(catalogue_groups=groups, cases=sum(counts.values()),
                       by_status={s: counts.get(s, 0) for s in ("core", "basic", "comprehensive", "unmatched",
                                                                "invalid")})
        # the run, with the parameter set it used and the loaded parameter rows in it (issue 20)
        params = conn.execute("select parameters from intermediate.int_dip_parameters_resolved").fetchone()[0]
        with conn.transaction():
            audit.record(conn, "dip_group", str(year), summary["by_status"], parameters=params,
                         details={"settlement_year": year, "grouping_only": grouping_only,
                                  "dip_regions": summary["dip_regions"],
                                  "catalogue_source": summary["catalogue_source"],
                                  "loaded_parameter_rows": summary["loaded_parameter_rows"]})
    return summary
