"""Airflow DAG claims_ingest: a thin file; the DAG is built by drgflow.airflow.dags.claims_ingest_dag."""
from drgflow.airflow.dags import claims_ingest_dag

dag = claims_ingest_dag()
