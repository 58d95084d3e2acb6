"""What each run builds: the names of the dbt selectors of dbt_project/selectors.yml, the one list of a run's
models. The command line passes a name to dbt (`run_dbt(["build", "--selector", name])`), the Airflow DAGs to
Cosmos (`RenderConfig(selector=name)`), so both routes build the same models for the same run.
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


def settlement(month: int | None) -> str:
    """The settlement run of a period: monthly with a month, annual without."""
    return SETTLEMENT_MONTHLY if month else SETTLEMENT_ANNUAL


def settlement_figures(month: int | None) -> str:
    """The command line's second step of the settlement run of a period."""
    return SETTLEMENT_MONTHLY_FIGURES if month else SETTLEMENT_ANNUAL_FIGURES
