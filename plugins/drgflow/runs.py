"""What each run builds: the names of the dbt selectors of dbt_project/selectors.yml, the one list of a run's
models. The command line passes a name to dbt (`run_dbt(["build", "--selector", name])`), the Airflow DAGs to
Cosmos (`RenderConfig(selector=name)`), so both routes build the same models for the same run; a calibration or
settlement picks its tests alike on both routes too (TEST_SELECTION).
"""
from __future__ import annotations

#: drgflow group and the DAGs' grouping task group: case_grouping and everything it reads
GROUPING = "grouping"
#: the staging views (drgflow demo rebuilds them after loading)
STAGING = "staging"
#: calibrate / settle, first step: staging views, policy seeds and the period views, no tests
SETTLEMENT_INPUTS = "settlement_inputs"
#: the runs as the DAGs build them in one task group: the period views and the figures
CALIBRATION = "calibration"
SETTLEMENT_MONTHLY = "settlement_monthly"
SETTLEMENT_ANNUAL = "settlement_annual"
#: calibrate / settle, second step: the same runs without the period views (built in SETTLEMENT_INPUTS and
#: checked by Python in between) and without unit tests
CALIBRATION_FIGURES = "calibration_figures"
SETTLEMENT_MONTHLY_FIGURES = "settlement_monthly_figures"
SETTLEMENT_ANNUAL_FIGURES = "settlement_annual_figures"
#: drgflow quality: the hospital data-quality marts
QUALITY = "quality"
#: drgflow transition: the transition report between two scheme versions
TRANSITION = "transition"
#: drgflow dip group: the DIP catalogue, grouping, coefficients and statistics of a settlement year (marts.dip_*)
DIP = "dip"
#: drgflow dip group --grouping-only: the DIP grouping alone (marts.dip_case_grouping and what it reads)
DIP_GROUPING = "dip_grouping"
#: which tests a calibration or settlement runs: those whose every model the selection holds (dbt's cautious
#: indirect selection; the case_points entries of selectors.yml widen it). The DAGs' test task and the command
#: line's figures step (build_args) both use it, so both routes run the same tests; dbt's default, eager,
#: would also run tests of models another run builds (a calibration would test case_points)
TEST_SELECTION = "cautious"


def settlement(month: int | None) -> str:
    """The settlement run of a period: monthly with a month, annual without."""
    return SETTLEMENT_MONTHLY if month else SETTLEMENT_ANNUAL


def settlement_figures(month: int | None) -> str:
    """The command line's second step of the settlement run of a period."""
    return SETTLEMENT_MONTHLY_FIGURES if month else SETTLEMENT_ANNUAL_FIGURES


def build_args(selector: str) -> list[str]:
    """dbt arguments of the command line's build of a calibration's or settlement's selector, with its tests
    picked as the DAGs' test task picks them (TEST_SELECTION)."""
    return ["build", "--selector", selector, "--indirect-selection", TEST_SELECTION]
