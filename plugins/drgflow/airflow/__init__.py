"""Airflow orchestration of drgflow: timetables, task helpers and DAG factories.

The DAG files in dags/ are thin: they call the factories in drgflow.airflow.dags. Every module here imports
the real Airflow with absolute imports (this package is drgflow.airflow, not airflow)."""
