"""Survivorship as data: which source is trusted first for each golden attribute, and the lineage of
every golden attribute to the staged record it came from.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""
import csv
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SEED = Path(__file__).resolve().parents[3] / "sql" / "seeds" / "source_trust.csv"


def upgrade() -> None:
    op.execute("""
    CREATE TABLE ref.source_trust (
        attribute  text NOT NULL CHECK (attribute IN ('identity', 'snils', 'place', 'death')),
        entity     text NOT NULL,
        rank       integer NOT NULL CHECK (rank > 0),
        basis      text NOT NULL,
        PRIMARY KEY (attribute, entity),
        UNIQUE (attribute, rank)
    );
    COMMENT ON TABLE ref.source_trust IS
        'golden record survivorship: per attribute, sources by trust (1 first), then the most recent record';
    ALTER TABLE register.person ADD COLUMN golden_source jsonb;
    COMMENT ON COLUMN register.person.golden_source IS
        'attribute -> [entity, stg_id] of the staged record each golden attribute was taken from';
    """)
    with open(SEED, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            op.execute(sa.text("INSERT INTO ref.source_trust (attribute, entity, rank, basis)"
                               " VALUES (:attribute, :entity, :rank, :basis)").bindparams(**row))


def downgrade() -> None:
    op.execute("ALTER TABLE register.person DROP COLUMN golden_source; DROP TABLE ref.source_trust;")
