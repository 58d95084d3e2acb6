"""Scheme import: parse, check, refuse inconsistent packs, several versions side by side."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import query
from drgflow import config
from drgflow.cli import main
from drgflow.errors import UserError
from drgflow.schemes.importer import import_scheme
from drgflow.schemes.pack import load_pack
from drgflow.schemes.rules import compile_adrg

SAMPLE = config.sample_scheme_dir()


def test_sample_scheme_is_small_and_complete():
    pack = load_pack(SAMPLE)
    assert (len(pack.mdcs), len(pack.adrgs), len(pack.drgs)) == (10, 38, 66)
    splits = {}
    for drg, _ in pack.drgs:
        splits[drg[:3]] = splits.get(drg[:3], "") + drg[3]
    assert {"135", "15", "35", "9"} <= set(splits.values())
    for mdc in pack.mdcs.values():
        assert mdc.code in "AZ" or 10 <= len(mdc.principal_dx) <= 60, mdc.code
    for f in SAMPLE.rglob("*.txt"):
        lines = [x for x in f.read_text(encoding="utf-8").splitlines() if x[:1].isalpha() and x[3:4] == "."]
        assert len(lines) < 300, f


def test_sample_rule_forms_compile():
    pack = load_pack(SAMPLE)
    kinds = {code: [c[2] for c in compile_adrg(a).conds] for code, a in pack.adrgs.items()}
    assert kinds["GC1"] == ["pdx", "ppx"]
    assert kinds["IB1"] == ["any_px", "any_px"]
    assert kinds["ID1"] == ["pdx", "any_px", "pdx", "any_px", "any_px"]
    assert kinds["PS1"] == ["any_dx"] and kinds["TB1"] == ["ppx_or"] and kinds["ZZ1"] == ["no_ppx_or"]


def test_import_sample_and_reimport_is_noop(fresh_url):
    r = import_scheme(SAMPLE, "SAMPLE-DRG", fresh_url)
    assert r["adrg"] == 38 and not r["skipped"]
    assert import_scheme(SAMPLE, "SAMPLE-DRG", fresh_url)["skipped"] is True
    assert query(fresh_url, "select count(*) from ref.scheme_drg where scheme_version = 'SAMPLE-DRG'")[0][0] == 66
    # drg-dip-reference §2.5: …1 needs an MCC in 1/3/5 and 1/5 splits alike; …3 an MCC or a CC
    assert query(fresh_url, "select cc_rule from ref.scheme_drg where drg in ('FR21','FZ11','FR23') order by drg") == \
        [("mcc",), ("mcc_or_cc",), ("mcc",)]


def test_official_versions_side_by_side(warehouse_url, shared_dir):
    if shared_dir is None:
        pytest.skip("no ../shared on this machine")
    for v, n in (("CHS-DRG-1.1", 628), ("CHS-DRG-1.0P", 618)):
        r = import_scheme(shared_dir / "schemes" / v, v, warehouse_url)
        assert r.get("skipped") or r["drg"] == n
    rows = dict(query(warehouse_url, "select scheme_version, count(*) from ref.scheme_drg group by 1"))
    assert rows["CHS-DRG-1.1"] == 628 and rows["CHS-DRG-1.0P"] == 618
    # 1.1: every …1 of a 1/5 split needs an MCC (drg-dip-reference §2.5): 55 ADRGs split 1/5
    assert query(warehouse_url, "select count(*) from ref.scheme_drg where scheme_version = 'CHS-DRG-1.1' and "
                 "split_digit = '1' and cc_rule = 'mcc' and adrg not in (select adrg from ref.scheme_drg where "
                 "scheme_version = 'CHS-DRG-1.1' and split_digit = '3')") == [(55,)]
    assert query(warehouse_url, "select count(*) from ref.scheme_drg where scheme_version = 'CHS-DRG-1.1' and "
                 "split_digit = '1' and cc_rule <> 'mcc'") == [(0,)]


def _copy_sample(tmp_path: Path) -> Path:
    dst = tmp_path / "pack"
    shutil.copytree(SAMPLE, dst)
    return dst


def test_refuses_pack_with_missing_drg(fresh_url, tmp_path):
    pack = _copy_sample(tmp_path)
    lines = (pack / "3_DRG.txt").read_text(encoding="utf-8").splitlines()
    (pack / "3_DRG.txt").write_text("\n".join(x for x in lines if not x.startswith("GD19")), encoding="utf-8")
    with pytest.raises(UserError, match=r"(?s)3_DRG.txt: 65 DRG parsed.*ADRG GD1 .* has no DRG"):
        import_scheme(pack, "SAMPLE-DRG", fresh_url)


def test_refuses_overlapping_exclusion_tables(fresh_url, tmp_path):
    pack = _copy_sample(tmp_path)
    text = (pack / "7_CCE.txt").read_text(encoding="utf-8")
    first_code = text.splitlines()[2]          # a member of 表 7-1
    (pack / "7_CCE.txt").write_text(text + f"表 7-99\n包含以下主要诊断：\n{first_code}\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"(?s)7_CCE.txt: .* is in 表 7-1 and 表 7-99"):
        import_scheme(pack, "SAMPLE-DRG", fresh_url)


def test_cli_refusal_is_one_line_not_a_traceback(fresh_url, tmp_path, use_database, capsys):
    use_database(fresh_url)
    assert main(["scheme", "import", str(tmp_path), "--version", "SAMPLE-DRG"]) == 2
    err = capsys.readouterr().err
    assert "not a grouping pack" in err and "Traceback" not in err


def test_unknown_version_needs_reviewed_rules(fresh_url):
    with pytest.raises(UserError, match="no reviewed supplementary rules for scheme version 'MY-CITY'"):
        import_scheme(SAMPLE, "MY-CITY", fresh_url)
