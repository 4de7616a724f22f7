"""Each marts build is a row: the run that built it, the run whose marts checkpoint passed on it, when it
was published. Publication takes the latest build only if its own checkpoint passed, so a build another
run made between a validation and a publication (the CLI beside Airflow, a failed run's leftovers) is
never published unvalidated.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE audit.marts_build (
        build_id      bigserial PRIMARY KEY,
        run_id        text NOT NULL,
        built_at      timestamptz NOT NULL DEFAULT now(),
        validated_by  text,
        validated_at  timestamptz,
        published_by  text,
        published_at  timestamptz
    );
    COMMENT ON TABLE audit.marts_build IS
        'Marts builds in schema build: the latest is published only once its marts checkpoint passed';
    GRANT ALL ON audit.marts_build TO ltc_etl;
    GRANT ALL ON SEQUENCE audit.marts_build_build_id_seq TO ltc_etl;
    """)


def downgrade() -> None:
    op.execute("DROP TABLE audit.marts_build")
