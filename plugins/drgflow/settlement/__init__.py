"""Calibration and settlement (settlement-spec §2–§5): runs the dbt models, guards closed periods and keeps the
audit trail (audit.runs, audit.run_inputs, audit.calibrations, audit.periods, audit.period_events).

Every figure is computed by the dbt models; this package decides what may run, passes the period as dbt vars,
and records what ran with which parameters and inputs. One module per job: lock (one run at a time per
warehouse), record (a run's audit.runs row and inputs), periods (names and state of a period, close and
reopen, the guard on closed rows), builds (the dbt builds of a run and their vars), inputs (the checks between
those builds), calibration (calibrate), settling (settle a month or a year), explain (one case in words).
This package's public names are below.
"""
from drgflow.settlement.builds import dbt_vars
from drgflow.settlement.calibration import calibrate
from drgflow.settlement.explain import CASE_TYPES, explain_case
from drgflow.settlement.lock import LOCK, LOCKED_COMMANDS
from drgflow.settlement.periods import close_period, closed_periods, parse_period, period_status, reopen_period
from drgflow.settlement.settling import settle

__all__ = ["CASE_TYPES", "LOCK", "LOCKED_COMMANDS", "calibrate", "close_period", "closed_periods", "dbt_vars",
           "explain_case", "parse_period", "period_status", "reopen_period", "settle"]
