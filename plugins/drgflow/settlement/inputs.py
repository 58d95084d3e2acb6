"""The checks between a run's two builds: they refuse, saying what to do, a period whose policy parameters or
cases cannot be paid (settlement-spec §1, §7); the dbt tests check the figures afterwards."""
from __future__ import annotations

import psycopg

from drgflow.errors import UserError
from drgflow.settlement.periods import format_period


def _resolved_parameters(conn: psycopg.Connection) -> tuple[str, dict]:
    """(scheme, parameters); parameters carries "_hash", the parameter_hash the marts carry (md5 of the jsonb)."""
    row = conn.execute("select scheme_version, parameters, parameter_hash "
                       "from intermediate.int_parameters_resolved").fetchone()
    if row is None or row[1] is None:
        raise UserError("no policy parameters apply to this year (ref.policy_parameters has no row with "
                        "effective_from_year <= the year)")
    return row[0], {**row[1], "_hash": row[2]}


def check_loaded_parameters(conn: psycopg.Connection) -> None:
    """Refuse the run when a loaded drg_parameters.csv row of its year cannot be used, naming file, row and rule."""
    rows = conn.execute(
        "select coalesce(l.file_name, 'batch ' || l.batch_id), l.source_row, l.parameter, l.problem"
        " from staging.stg_raw__drg_parameters as l, intermediate.int_parameters_resolved as p"
        " where l.problem is not null and (l.settlement_year = p.settlement_year or l.settlement_year is null)"
        " order by l.batch_id, l.source_row").fetchall()
    if rows:
        listed = "\n  ".join(f"{name}: row {row}: {parameter or '(no parameter)'}: {problem}"
                             for name, row, parameter, problem in rows[:10])
        raise UserError(f"drg_parameters refused ({len(rows)} row(s)):\n  {listed}")


def check_parameters(conn: psycopg.Connection) -> tuple[str, dict]:
    """The run's (scheme, parameters) from the period views, refused when the policy cannot be applied."""
    check_loaded_parameters(conn)
    scheme, params = _resolved_parameters(conn)
    weights = params.get("base_weights") or []
    if len(weights) != params.get("base_years"):
        raise UserError(f"policy parameters: base_weights {weights} must have base_years = "
                        f"{params.get('base_years')} entries")
    if params.get("trim_method") not in ("percentile", "log_sd", "iqr", "none"):
        raise UserError(f"policy parameters: unknown trim_method {params.get('trim_method')!r}")
    return scheme, params


def check_settlement_inputs(conn: psycopg.Connection, year: int, month: int | None, scheme: str) -> None:
    """Refuse, with what to do, a period whose cases cannot be settled: no cases, missing budget, missing
    grouping, hospitals outside the registry."""
    where = "c.settle_year = %s" + (" and c.settle_period = %s" if month else "")
    args: tuple = (year, format_period(year, month)) if month else (year,)
    n = conn.execute(f"select count(*) from intermediate.int_cases_in_scope c where {where}", args).fetchone()[0]
    if n == 0:
        raise UserError(f"no accepted cases settled in {format_period(year, month)}")
    missing = [r[0] for r in conn.execute(
        f"""select distinct c.region_code from intermediate.int_cases_in_scope c
            where {where} and not exists (select 1 from staging.stg_raw__budgets b
                                          where b.region_code = c.region_code and b.year = %s
                                            and b.fund_budget is not null)
            order by 1""", (*args, year)).fetchall()]
    if missing:
        raise UserError(f"missing fund budget for region(s) {', '.join(map(str, missing))} in {year} "
                        f"(load budgets.csv with region_code, year, fund_budget)")
    require_current_groupings(conn, where, args, format_period(year, month), scheme)
    unknown = [r[0] for r in conn.execute(
        f"""select distinct c.hospital_id from intermediate.int_cases_in_scope c where {where}
            and not exists (select 1 from staging.stg_raw__hospitals h where h.hospital_id = c.hospital_id
                            and h.level is not null)
            order by 1 limit 10""", args).fetchall()]
    if unknown:
        raise UserError(f"hospital(s) {', '.join(unknown)} are not in the registry with a level "
                        f"(load hospitals.csv)")


def require_current_groupings(conn: psycopg.Connection, where: str, args: tuple, what: str, scheme: str) -> None:
    """Refuse cases without a grouping, or whose grouping is of an older case version than the accepted one
    (a correction loaded after `drgflow group`): money is never computed from a stale group (spec §1)."""
    missing, stale, example = conn.execute(
        f"""select count(*) filter (where g.case_id is null),
                   count(*) filter (where g.case_id is not null
                                    and (g.batch_id, g.source_row) is distinct from (c.batch_id, c.source_row)),
                   min(c.hospital_id || '/' || c.case_id) filter (
                       where g.case_id is not null
                         and (g.batch_id, g.source_row) is distinct from (c.batch_id, c.source_row))
            from intermediate.int_cases_in_scope c
            left join intermediate.int_case_groups_selected g
              on g.hospital_id = c.hospital_id and g.case_id = c.case_id
            where {where}""", args).fetchone()
    if missing:
        raise UserError(f"{missing} case(s) of {what} have no grouping under scheme {scheme}: "
                        f"run drgflow group --scheme {scheme}")
    if stale:
        raise UserError(f"{stale} case(s) of {what} changed after they were grouped (e.g. {example}: a newer "
                        f"version was loaded): regroup them with drgflow group --scheme {scheme} "
                        f"(drgflow run groups before it settles)")
