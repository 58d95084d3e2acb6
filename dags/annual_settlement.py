"""Airflow DAG annual_settlement: a thin file; the DAG is built by drgflow.airflow.dags.annual_settlement_dag."""
from drgflow.airflow.dags import annual_settlement_dag

dag = annual_settlement_dag()
