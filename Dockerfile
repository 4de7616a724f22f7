# The project's image: the official Airflow image with the project's pinned dependencies.
FROM apache/airflow:3.3.2-python3.11
USER airflow
COPY --chown=airflow:root pyproject.toml constraints.txt /opt/ltc/
COPY --chown=airflow:root etl /opt/ltc/etl
COPY --chown=airflow:root connectors /opt/ltc/connectors
COPY --chown=airflow:root sql /opt/ltc/sql
COPY --chown=airflow:root expectations /opt/ltc/expectations
COPY --chown=airflow:root dags /opt/airflow/dags
RUN pip install --no-cache-dir -c /opt/ltc/constraints.txt -e /opt/ltc
