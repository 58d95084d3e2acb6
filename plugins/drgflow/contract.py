"""The input contract (../shared/contract/input-cases.md): file kinds and their columns."""
from __future__ import annotations

FEE_COLUMNS = (
    "fee_bed", "fee_diagnosis", "fee_exam", "fee_lab", "fee_treatment", "fee_surgery", "fee_nursing",
    "fee_material", "fee_western_drug", "fee_herbal", "fee_chinese_patent", "fee_general_treatment",
    "fee_registration", "fee_other",
)
FEE_LABELS_ZH = {
    "fee_bed": "床位费", "fee_diagnosis": "诊察费", "fee_exam": "检查费", "fee_lab": "化验费",
    "fee_treatment": "治疗费", "fee_surgery": "手术费", "fee_nursing": "护理费", "fee_material": "卫生材料费",
    "fee_western_drug": "西药费", "fee_herbal": "中药饮片费", "fee_chinese_patent": "中成药费",
    "fee_general_treatment": "一般诊疗费", "fee_registration": "挂号费", "fee_other": "其他费",
}

CASE_COLUMNS = (
    "case_id", "hospital_id", "region_code", "insurance_type", "patient_id", "sex", "age_years", "age_days",
    "birth_weight_g", "admit_date", "discharge_date", "los_days", "discharge_way", "dept_code", "dx_codes",
    "px_codes", "ventilator_hours", "total_cost", "fund_paid", *FEE_COLUMNS, "settle_date",
)
#: columns whose value is required in every row (the contract's "yes")
CASE_REQUIRED = tuple(
    c for c in CASE_COLUMNS
    if c not in ("age_days", "birth_weight_g", "dept_code", "px_codes", "ventilator_hours")
)

#: file kind -> columns, in contract order. A file's kind is recognised from its header.
FILE_KINDS: dict[str, tuple[str, ...]] = {
    "cases": CASE_COLUMNS,
    "hospitals": ("hospital_id", "hospital_name", "level", "hospital_type", "region_code"),
    "budgets": ("region_code", "year", "fund_budget"),
    "assessment_scores": ("hospital_id", "year", "score"),
    "special_review": ("hospital_id", "case_id", "approved_points", "reason"),
    # DIP (contract/outputs.md, DIP): per-year parameters of dip-spec §11, and the DRG parameters of
    # settlement-spec §7 in the same shape; the two are told apart by the file name (PARAMETER_FILE_PREFIXES)
    "dip_parameters": ("settlement_year", "parameter", "value"),
    "drg_parameters": ("settlement_year", "parameter", "value"),
    "dip_special_review": ("hospital_id", "case_id", "approved_score", "reason"),
    "dip_basic_groups": ("settlement_year", "code"),
    "procedure_class": ("code", "class"),
}
#: the order files are loaded in: reference tables before the cases that need them (loader, Airflow ingest)
LOAD_ORDER: tuple[str, ...] = ("hospitals", "budgets", "assessment_scores", "special_review", "drg_parameters",
                               "dip_parameters", "dip_basic_groups", "procedure_class", "dip_special_review", "cases")
#: columns a file of that kind may omit from its header (absent = all values empty)
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": ("dept_code", "ventilator_hours"),
    "special_review": ("reason",),
    "dip_special_review": ("reason",),
    "hospitals": ("hospital_type",),
}
#: a column whose presence identifies the kind
KIND_MARKERS = {
    "cases": "dx_codes", "hospitals": "hospital_name", "budgets": "fund_budget",
    "assessment_scores": "score", "special_review": "approved_points",
    "dip_special_review": "approved_score", "procedure_class": "class", "dip_basic_groups": "code",
    "dip_parameters": "parameter",
}
#: a parameter file's kind by its file name (the two kinds share one header)
PARAMETER_FILE_PREFIXES = {"dip_": "dip_parameters", "drg_": "drg_parameters"}


def kind_of_header(header: list[str], file_name: str = "") -> str | None:
    """The file kind whose marker column the header holds (KIND_MARKERS), or None. A parameter file is
    dip_parameters or drg_parameters by the start of its name (dip_… / drg_…); None when the name says neither."""
    names = set(header)
    for kind, marker in KIND_MARKERS.items():
        if marker in names:
            if kind == "dip_parameters":
                base = file_name.rsplit("/", 1)[-1].lower()
                return next((k for prefix, k in PARAMETER_FILE_PREFIXES.items() if base.startswith(prefix)), None)
            return kind
    return None
