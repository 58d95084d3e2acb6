"""Airflow DAG annual_calibration: a thin file; the DAG is built by drgflow.airflow.dags.annual_calibration_dag."""
from drgflow.airflow.dags import annual_calibration_dag

dag = annual_calibration_dag()
