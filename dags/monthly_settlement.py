"""Airflow DAG monthly_settlement: a thin file; the DAG is built by drgflow.airflow.dags.monthly_settlement_dag."""
from drgflow.airflow.dags import monthly_settlement_dag

dag = monthly_settlement_dag()
