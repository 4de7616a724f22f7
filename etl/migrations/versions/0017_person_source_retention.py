"""Who founds a register person, and how long the others' records are kept (issue 22, item 4).

Only records of the LTC pathway (the EIS card, an ЕПГУ application, a medical referral) found a person;
an ОМС case, a ЗАГС death or a ФРИ extract joins a person it matches and is otherwise held, unlinked,
for its source's retention period, then removed by the retention job. The rule is data
(sql/seeds/person_source.csv, reloaded at every register build); the counts of removed rows are kept
per batch, so the landing reconciliation still adds up.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE ref.person_source (
        entity          text PRIMARY KEY,
        founds_person   boolean NOT NULL,
        retention_days  integer CHECK (retention_days > 0),
        basis           text NOT NULL,
        CHECK (founds_person OR retention_days IS NOT NULL)
    );
    COMMENT ON TABLE ref.person_source IS
        'Which sources found a register person; how long records of the others are kept unmatched (sql/seeds/person_source.csv)';
    ALTER TABLE audit.load_batch ADD COLUMN n_expired_staged integer NOT NULL DEFAULT 0,
                                 ADD COLUMN n_expired_quarantined integer NOT NULL DEFAULT 0;
    COMMENT ON COLUMN audit.load_batch.n_expired_staged IS
        'staged rows (and their raw records) removed by the retention job: never matched a register person';
    COMMENT ON COLUMN audit.load_batch.n_expired_quarantined IS
        'quarantined rows (and their raw records) of the same sources removed by the retention job';
    CREATE TABLE audit.retention_run (
        retention_id  bigserial PRIMARY KEY,
        run_id        text NOT NULL,
        at            timestamptz NOT NULL DEFAULT now(),
        dry_run       boolean NOT NULL,
        counts        jsonb NOT NULL
    );
    GRANT ALL ON ref.person_source, audit.retention_run TO ltc_etl;
    GRANT ALL ON SEQUENCE audit.retention_run_retention_id_seq TO ltc_etl;
    """)


def downgrade() -> None:
    op.execute("""DROP TABLE audit.retention_run; DROP TABLE ref.person_source;
        ALTER TABLE audit.load_batch DROP COLUMN n_expired_staged, DROP COLUMN n_expired_quarantined;""")
