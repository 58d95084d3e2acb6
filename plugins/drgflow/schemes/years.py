"""Which grouping scheme a settlement year uses: the bureau's assignments in ref.scheme_years.

`drgflow scheme assign CHS-DRG-2.0 --from-year 2025` makes 2025 and later years group (and regroup their base
years' history) with 2.0 until a later assignment; earlier years keep theirs. An assignment overrides the
policy seed's scheme_version (dbt_project/seeds/policy_parameters.csv), which overrides the environment's
scheme (DRGFLOW_SCHEME). drgflow.grouping.scheme_for_year resolves the three in this order, and the dbt model
int_parameters_resolved the same way.
"""
from __future__ import annotations

from drgflow import db
from drgflow.errors import UserError


def assign_scheme(version: str, from_year: int, url: str | None = None, note: str | None = None) -> None:
    """Settlement years from `from_year` on use scheme `version` (it must be imported)."""
    if not 1900 <= from_year <= 2999:
        raise UserError(f"--from-year {from_year}: not a year between 1900 and 2999")
    url = url or db.database_url()
    db.init_warehouse(url)
    with db.transaction(url) as conn:
        if conn.execute("select 1 from ref.scheme_version where scheme_version = %s", (version,)).fetchone() is None:
            raise UserError(f"scheme {version} is not imported; run `drgflow scheme import PATH --version {version}` "
                            f"first (`drgflow scheme list` shows the imported versions)")
        conn.execute("insert into ref.scheme_years (effective_from_year, scheme_version, note) values (%s, %s, %s)"
                     " on conflict (effective_from_year) do update set scheme_version = excluded.scheme_version,"
                     " note = excluded.note, assigned_at = now(), assigned_by = current_user",
                     (from_year, version, note))


def assigned_scheme(year: int, url: str) -> str | None:
    """The scheme assigned to settlement year `year` (the assignment in force), or None."""
    db.init_warehouse(url)
    with db.connect(url) as conn:
        row = conn.execute("select scheme_version from ref.scheme_years where effective_from_year <= %s"
                           " order by effective_from_year desc limit 1", (year,)).fetchone()
    return row[0] if row else None


def assignments(url: str) -> list[tuple[int, str, str]]:
    """(from year, version, note) of every assignment, in year order."""
    db.init_warehouse(url)
    with db.connect(url) as conn:
        return [(y, v, n or "") for y, v, n in conn.execute(
            "select effective_from_year, scheme_version, note from ref.scheme_years order by 1")]
