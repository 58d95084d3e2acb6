"""Airflow plugin registering drgflow's timetables, so the scheduler can deserialize the DAGs.

Point Airflow's plugins folder here: AIRFLOW__CORE__PLUGINS_FOLDER=<repo>/plugins/drgflow/airflow/plugins_folder
(this folder holds only this file, so Airflow never imports the package's modules a second time by path).
"""
from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from drgflow.airflow.timetables import PeriodTimetable


class DrgflowPlugin(AirflowPlugin):
    """Registers PeriodTimetable with Airflow."""
    name = "drgflow"
    timetables = [PeriodTimetable]
