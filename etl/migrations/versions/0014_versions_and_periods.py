"""Sources as versions of natural keys, and reproducible reporting periods.

- audit.load_batch.source_time: when the source made the file (an OPTIMA manifest's exported_at, an ОМС
  register's ZGLV/DATA); a later export of a key replaces an earlier one by this time, not by the order
  files happened to be landed in.
- staging.optima_deletion: keys an OPTIMA export says were deleted or cancelled (deletions.csv).
- ref.setting open_hospital_stay_days: how long a hospital stay without a discharge date counts.
- jit off for the database (views over views made compilation most of a query's time).
- audit.period / audit.period_revision and schema frozen: a closed reporting month keeps its published
  figures; later changes open a pending revision that says what changed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The models are views over views: PostgreSQL's JIT compiled 5 000 functions for one mart over a
    # 300-person region (5.0 of its 5.2 s; 0.4 s without). Off for every session of this database.
    op.execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET jit = off', current_database()); END $$")
    op.execute("""
    ALTER TABLE audit.load_batch ADD COLUMN source_time timestamptz;
    COMMENT ON COLUMN audit.load_batch.source_time IS
        'when the source made the file (OPTIMA manifest exported_at, ОМС ZGLV/DATA); versions are ordered by it';

    CREATE TABLE staging.optima_deletion (
        stg_id      bigserial PRIMARY KEY,
        batch_id    bigint NOT NULL,
        locator     text   NOT NULL,
        export_id   text   NOT NULL,
        entity      text   NOT NULL,
        record_id   text   NOT NULL,
        deleted_on  date,
        reason      text
    );

    INSERT INTO ref.setting VALUES ('open_hospital_stay_days', '30',
        'a hospital stay without a discharge date counts this many days at most (longer is a gap in the data)')
    ON CONFLICT (key) DO NOTHING;

    CREATE SCHEMA IF NOT EXISTS frozen;
    CREATE TABLE audit.period (
        month         date PRIMARY KEY CHECK (extract(day FROM month) = 1),
        revision      integer NOT NULL,
        closed_at     timestamptz NOT NULL DEFAULT now(),
        closed_by     text NOT NULL,
        max_batch_id  bigint NOT NULL,
        note          text
    );
    CREATE TABLE audit.period_revision (
        month         date NOT NULL,
        revision      integer NOT NULL,
        status        text NOT NULL CHECK (status IN ('accepted', 'pending')),
        opened_at     timestamptz NOT NULL DEFAULT now(),
        accepted_at   timestamptz,
        accepted_by   text,
        changes       jsonb NOT NULL DEFAULT '{}'::jsonb,
        batches       bigint[] NOT NULL DEFAULT '{}',
        PRIMARY KEY (month, revision)
    );
    COMMENT ON COLUMN audit.period_revision.changes IS
        'per mart: rows added / removed / changed against the accepted revision and the change of each measure';
    """)


def downgrade() -> None:
    op.execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET jit', current_database()); END $$")
    op.execute("""
    DROP TABLE audit.period_revision, audit.period;
    DROP SCHEMA frozen CASCADE;
    DROP TABLE staging.optima_deletion;
    DELETE FROM ref.setting WHERE key = 'open_hospital_stay_days';
    ALTER TABLE audit.load_batch DROP COLUMN source_time;
    """)
