"""Raw hash look-ups off the hot path (issue 21, item 2): the duplicate check by content hash probes a
narrow table of keys — the first 60 bits of each raw record's hash, its batch and locator — instead of a
hash index on raw.record. A million raw rows were copied in 12 s with that index and 7 s without it (its
buckets are written at random over the whole history); the keys go in beside them, sorted, on the other
connection of the landing. A key only narrows the search: the full hash is compared in raw.record.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    -- the key of a content hash (64 hex digits): its first 15 digits as a number, the same in DuckDB
    -- (etl/landing/tabular.py, macro hash8)
    CREATE FUNCTION raw.hash8(content_hash text) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT ('x' || left(content_hash, 15))::bit(60)::bigint $$;
    CREATE TABLE raw.content_key (
        hash8     bigint NOT NULL,
        batch_id  bigint NOT NULL,
        locator   text NOT NULL
    );
    COMMENT ON TABLE raw.content_key IS
        'every raw record''s content-hash key (raw.hash8), for the duplicate check of later batches';
    INSERT INTO raw.content_key SELECT raw.hash8(content_hash), batch_id, locator FROM raw.record ORDER BY 1;
    CREATE INDEX content_key_hash8_idx ON raw.content_key (hash8);
    DROP INDEX IF EXISTS raw.record_content_hash_idx;
    GRANT ALL ON raw.content_key TO ltc_etl;
    GRANT EXECUTE ON FUNCTION raw.hash8(text) TO ltc_etl;
    """)


def downgrade() -> None:
    op.execute("""
    CREATE INDEX IF NOT EXISTS record_content_hash_idx ON raw.record USING hash (content_hash);
    DROP TABLE raw.content_key;
    DROP FUNCTION raw.hash8(text);
    """)
