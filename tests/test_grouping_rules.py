"""Hand-made cases for every rule form, grouped with SAMPLE-DRG by the real dbt models.

One dbt run groups all cases (module fixture); each test checks the cases of one rule form.
SAMPLE-DRG (plugins/drgflow/sample_scheme) has QY switched on; CHS-DRG-1.1 has it off.
"""
from __future__ import annotations

import pytest

from conftest import create_database, drop_database, query
from drgflow import db
from drgflow.grouping import group_cases
from drgflow.schemes.terminology import SAMPLE_DIR, import_terminology
from test_grouping_support import load_cases

V = "SAMPLE-DRG"
# an undotted variant spelling of C61.x00 (MDCM) from the sample variant map
VARIANT = next(line.split()
               for line in (SAMPLE_DIR / "icd10_sample_variant_map.txt").read_text(encoding="utf-8").splitlines()
               if line.endswith(" C61.x00"))

CASES = {
    # principal diagnosis list (medical) and CC/MCC with exclusion tables; FR2 splits 1/3/5
    "pdx_none": ("1", "I21.000", ""),
    "pdx_mcc": ("1", "I21.000|J96.000", ""),                 # MCC of 表 7-2, principal in 表 7-1
    "pdx_cc_excluded": ("1", "I21.000|I50.900", ""),         # CC of 表 7-1 = principal's table: cancelled
    "pdx_cc": ("1", "I21.000|J18.900", ""),
    "pdx_mcc_no_table": ("1", "I21.000|K72.000", ""),        # MCC with 无 exclusion table always counts
    "principal_not_secondary": ("1", "J96.000", ""),         # an MCC code as principal is not a secondary
    # split pairs: FZ1 is 1/5 (…1 needs an MCC, a CC alone goes to …5), FT2 is 3/5 (an MCC counts as …3)
    "pair15_mcc": ("1", "I20.000|J96.000", ""),
    "pair15_cc": ("1", "I20.000|J18.900", ""),
    "pair15_none": ("1", "I20.000", ""),
    "pair35_mcc": ("1", "I10.x00x002|J96.000", ""),
    # principal procedure list (surgical, split 9) and principal dx + principal procedure
    "ppx": ("1", "K40.000|K21.000", "53.0000"),
    "pdx_ppx": ("1", "K35.200", "47.0100"),
    "pdx_ppx_missing_px": ("1", "K35.200", ""),
    # 同时包含 … 和 … (procedures in any position)
    "pair_both": ("1", "M48.000", "81.0500|80.5100"),
    "pair_one": ("1", "M48.000", "81.0500"),
    # 主要诊断 + 手术表 1 / 或 主要诊断 + 手术表 2 + 手术表 3
    "tables_1": ("1", "S72.000", "79.3500"),
    "tables_23": ("1", "S72.000", "99.0400|79.0500|78.5500"),
    "tables_2_only": ("1", "S72.000", "79.0500"),
    # sex-specific MDCs
    "male_mdc": ("1", "C61.x00", ""),
    "male_mdc_female": ("2", "C61.x00", ""),
    # MDCA (entry by an OR principal procedure) and its fall-through to the principal diagnosis's MDC
    "mdca": ("1", "I21.000|J96.000", "96.7201"),
    "mdca_fallthrough": ("1", "I21.000", "36.1000"),
    # 全部手术 (any OR principal procedure) in MDCT; QY between non-OR and medical ADRGs
    "all_surgery": ("1", "F20.000", "53.0000"),
    "qy": ("1", "I21.000", "45.4300|81.5100"),
    "non_or": ("1", "K92.000", "45.4300"),
    # MDCZ: ≥ 2 body regions, 且无手术 / 全部手术; one region only is not MDCZ
    "mdcz_no_surgery": ("1", "S72.000|S06.200", ""),
    "mdcz_surgery": ("1", "S72.000|S06.200", "79.3500"),
    "mdcz_one_region": ("1", "S72.000|S72.300", ""),
    # variant spelling mapped to the catalogue; unknown code; no diagnosis
    "variant": ("1", VARIANT[0] + "|J96.000", ""),
    "unknown_code": ("1", "I21.000|Q99.999", ""),
}
NEWBORNS = {
    # (age_years, age_days, weight): MDCP needs age < 1 year; PS1–PS4 by birth weight, any-diagnosis P07
    "ps1": (0, 10, 1200, "P22.000|P07.000"),
    "ps2": (0, 10, 1800, "P22.000|P07.000"),
    "ps3": (0, 10, 2200, "P22.000|P07.000"),
    "ps4": (0, 10, 3000, "P22.000|P07.000"),
    "term": (0, 10, 3300, "P22.000"),
    "infant": (0, 100, None, "P22.000"),
    "newborn_no_weight": (0, 10, None, "P22.000"),
    "not_infant": (2, None, None, "P22.000"),
}


@pytest.fixture(scope="module")
def sample_url():
    """A database of its own: it holds the sample terminology, not the shared one."""
    name, url = create_database("drgflow_t_rules")
    db.init_warehouse(url)
    yield url
    drop_database(name)


@pytest.fixture(scope="module")
def grouped(sample_url, tmp_path_factory):
    url = sample_url
    import_terminology(url, folder=SAMPLE_DIR)
    rows = [{"case_id": f"R-{k}", "sex": sex, "dx_codes": dx, "px_codes": px} for k, (sex, dx, px) in CASES.items()]
    rows += [{"case_id": f"R-{k}", "sex": "1", "age_years": str(y), "age_days": "" if d is None else str(d),
              "birth_weight_g": "" if w is None else str(w), "dx_codes": dx, "px_codes": ""}
             for k, (y, d, w, dx) in NEWBORNS.items()]
    load_cases(url, tmp_path_factory.mktemp("rules"), rows, name="rule_forms.csv")
    counts = group_cases(url, V)
    got = {r[0][2:]: r[1:] for r in query(
        url, "select case_id, mdc, adrg, drg, group_status, cc_level, reason, trace from marts.case_grouping "
             "where scheme_version = %s and case_id like 'R-%%'", (V,))}
    return counts, got


def drg(grouped, key):
    return grouped[1][key][2]


def test_principal_dx_list_and_cc_exclusions(grouped):
    assert drg(grouped, "pdx_none") == "FR25"
    assert drg(grouped, "pdx_mcc") == "FR21"
    assert drg(grouped, "pdx_cc_excluded") == "FR25"
    assert "主诊断在排除表 7-1，不计" in grouped[1]["pdx_cc_excluded"][6]
    assert drg(grouped, "pdx_cc") == "FR23"
    assert drg(grouped, "pdx_mcc_no_table") == "FR21"
    assert grouped[1]["principal_not_secondary"][2] == "0000"     # J96.000 is in no MDC list


def test_split_pairs(grouped):
    assert drg(grouped, "pair15_mcc") == "FZ11"     # 1/5: …1 = MCC (drg-dip-reference §2.5)
    assert drg(grouped, "pair15_cc") == "FZ15"      # 1/5: a CC alone does not reach …1
    assert drg(grouped, "pair15_none") == "FZ15"
    assert drg(grouped, "pair35_mcc") == "FT23"     # 3/5: …3 = CC or MCC
    assert grouped[1]["pair35_mcc"][4] == "mcc"


def test_procedure_rules(grouped):
    assert drg(grouped, "ppx") == "GD19"
    assert drg(grouped, "pdx_ppx") == "GC15"
    assert drg(grouped, "pdx_ppx_missing_px") == "GZ19"   # surgical rule fails, medical ADRG takes it
    assert drg(grouped, "pair_both") == "IB19"
    assert drg(grouped, "pair_one") == "IQY"        # one of the pair only; an OR procedure -> QY (on in SAMPLE)
    assert drg(grouped, "tables_1") == "ID15"
    assert drg(grouped, "tables_23") == "ID15"
    assert drg(grouped, "tables_2_only") == "IQY"
    assert drg(grouped, "non_or") == "GK19"


def test_sex_specific_mdc(grouped):
    assert drg(grouped, "male_mdc") == "MR15"
    mdc, adrg, d, status, cc, reason, trace = grouped[1]["male_mdc_female"]
    assert (d, status) == ("0000", "ungroupable") and "不符合所有MDC的入组条件" in reason


def test_mdca_and_fallthrough(grouped):
    assert drg(grouped, "mdca") == "AH11"
    assert drg(grouped, "mdca_fallthrough") == "FC19"
    assert drg(grouped, "all_surgery") == "TB19"


def test_qy_switch(grouped):
    mdc, adrg, d, status, *_ = grouped[1]["qy"]
    assert (mdc, d, status) == ("F", "FQY", "qy")


def test_mdcz_regions_and_no_surgery(grouped):
    assert drg(grouped, "mdcz_no_surgery") == "ZZ15"
    assert "创伤部位 2 个" in grouped[1]["mdcz_no_surgery"][6]
    assert drg(grouped, "mdcz_surgery") == "ZJ19"
    assert drg(grouped, "mdcz_one_region") == "IS15"


def test_newborns_by_age_and_weight(grouped):
    assert [drg(grouped, k) for k in ("ps1", "ps2", "ps3", "ps4", "term", "infant")] == \
        ["PS15", "PS25", "PS39", "PS45", "PU15", "PV15"]
    mdc, adrg, d, status, cc, reason, trace = grouped[1]["newborn_no_weight"]   # drg-dip-reference §2.3 step 0
    assert (d, status) == ("0000", "ungroupable") and "birth weight missing" in reason
    assert grouped[1]["not_infant"][2] == "0000"


def test_codes_mapped_or_refused(grouped):
    assert grouped[1]["variant"][2] == "MR11" and "C61.x00" in grouped[1]["variant"][6]
    mdc, adrg, d, status, cc, reason, trace = grouped[1]["unknown_code"]
    assert d == "0000" and "Q99.999" in reason


def test_versions_side_by_side(grouped, sample_url):
    """A run for another version adds its rows; rerunning SAMPLE-DRG replaces only SAMPLE-DRG's rows."""
    url = sample_url
    before = query(url, "select count(*) from marts.case_grouping where scheme_version = %s", (V,))[0][0]
    with db.connect(url) as conn:   # rows of another version, in their own partition as a run for it leaves them
        conn.execute("create table marts.case_grouping__other partition of marts.case_grouping "
                     "for values in ('OTHER')")
        conn.execute("insert into marts.case_grouping select 'OTHER', hospital_id, case_id, mdc, adrg, drg, "
                     "group_status, cc_level, reason, trace from marts.case_grouping where scheme_version = %s", (V,))
        conn.commit()
    counts = group_cases(url, V)
    assert sum(counts.values()) == before
    assert query(url, "select count(*) from marts.case_grouping where scheme_version = 'OTHER'")[0][0] == before
    with db.connect(url) as conn:
        conn.execute("drop table marts.case_grouping__other")
        conn.commit()


def test_plain_case_grouping_table_is_converted(grouped, sample_url):
    """A warehouse whose case_grouping is a plain table (built before partitioning) is converted on the next
    run: every other version's rows move to their own partition, the run's version is regrouped."""
    url = sample_url
    before = query(url, "select count(*) from marts.case_grouping where scheme_version = %s", (V,))[0][0]
    with db.connect(url) as conn:
        conn.execute("create table marts.case_grouping_plain as select * from marts.case_grouping")
        conn.execute("insert into marts.case_grouping_plain select 'OTHER', hospital_id, case_id, mdc, adrg, drg, "
                     "group_status, cc_level, reason, trace from marts.case_grouping where scheme_version = %s", (V,))
        conn.execute("alter table marts.case_grouping rename to case_grouping_partitioned")
        conn.execute("alter table marts.case_grouping_plain rename to case_grouping")
        conn.commit()
    counts = group_cases(url, V)
    assert sum(counts.values()) == before
    assert query(url, "select relkind from pg_class where oid = 'marts.case_grouping'::regclass")[0][0] == "p"
    assert query(url, "select scheme_version, count(*) from marts.case_grouping group by 1 order by 1") == sorted(
        [(V, before), ("OTHER", before)])
    with db.connect(url) as conn:   # back to one version, as the other tests expect
        conn.execute("drop table marts.case_grouping_partitioned cascade")   # and the hospital view over it
        other = conn.execute("select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                             "where i.inhparent = 'marts.case_grouping'::regclass "
                             "and pg_get_expr(c.relpartbound, c.oid) = $$FOR VALUES IN ('OTHER')$$").fetchone()[0]
        conn.execute(f'drop table marts."{other}"')
        conn.commit()


def test_cli_group_prints_counts(grouped, sample_url, use_database, capsys):
    from drgflow.cli import main

    use_database(sample_url)
    assert main(["group", "--scheme", V]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{V}: ") and " grouped" in out and " ungroupable" in out


def test_dbt_data_tests_pass(grouped, sample_url):
    """The generic and singular dbt tests on the grouping models (keys, accepted values, status consistency)."""
    from drgflow.transform import run_dbt

    results = run_dbt(["test", "--select", "+case_grouping", "--exclude", "stg_raw__cases"], url=sample_url,
                      vars={"scheme_version": V})
    names = {r.node.name for r in results.results}
    assert any("assert_case_grouping_status_consistent" in n for n in names)
    assert [(r.node.name, str(r.status)) for r in results.results if str(r.status) not in ("pass", "success")] == []


def test_fresh_clone_without_shared_uses_the_sample(fresh_url, tmp_path, monkeypatch):
    """No ../shared: the default scheme is SAMPLE-DRG and group_cases imports the sample terminology."""
    from drgflow import config

    monkeypatch.setenv("DRGFLOW_SHARED", str(tmp_path / "no-shared"))
    version, folder = config.default_scheme()
    assert version == "SAMPLE-DRG"
    load_cases(fresh_url, tmp_path / "in", [{"case_id": "F1", "dx_codes": "I21.000|J96.000"}], name="f.csv")
    assert group_cases(fresh_url, version) == {"grouped": 1, "qy": 0, "ungroupable": 0}
    assert query(fresh_url, "select count(*) < 300 from ref.dx_catalogue")[0][0] is True
    assert query(fresh_url, "select drg from marts.case_grouping")[0][0] == "FR21"


def test_rows_name_the_case_version_grouped(grouped, sample_url):
    """Each row carries the raw row (batch_id, source_row) of the accepted case version it grouped."""
    total, matching = query(sample_url, """
        select count(*), count(s.case_id) from marts.case_grouping g
        left join staging.stg_raw__cases s on s.hospital_id = g.hospital_id and s.case_id = g.case_id
             and s.batch_id = g.batch_id and s.source_row = g.source_row
        where g.scheme_version = %s""", (V,))[0]
    assert total > 30 and matching == total


def test_warehouse_grouped_before_the_version_columns_is_upgraded(grouped, sample_url):
    """A case_grouping from before batch_id/source_row gets them appended on the next run, rows kept."""
    before = query(sample_url, "select count(*) from marts.case_grouping where scheme_version = %s", (V,))[0][0]
    with db.connect(sample_url) as conn:
        # cascade: views built on the table by later stages (dbt rebuilds them on their next run)
        conn.execute("alter table marts.case_grouping drop column batch_id cascade, drop column source_row cascade")
        conn.commit()
    group_cases(sample_url, V)
    assert query(sample_url, "select count(*), count(batch_id), count(source_row) from marts.case_grouping"
                             " where scheme_version = %s", (V,))[0] == (before, before, before)
