"""The batch-status gate (issue 21): a batch's rows are written on several connections and committed
before the batch is marked loaded; a landing that fails marks its batch `failed` (its rows removed), one
that died leaves it `loading` until the next landing or build removes its rows and marks it so.

Batches are numbered when they begin but become visible when they are loaded, in another order when
sources land side by side: what a register build or a closed month has seen is the load order
(`loaded_seq`, given as the batch is marked loaded), not the batch number — a batch begun before and loaded
after a build was otherwise taken as tried by it, and its records held without ever being linked.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE audit.load_batch DROP CONSTRAINT load_batch_status_check;
    ALTER TABLE audit.load_batch ADD CONSTRAINT load_batch_status_check
        CHECK (status IN ('loading', 'loaded', 'rejected', 'failed'));
    COMMENT ON COLUMN audit.load_batch.status IS
        'loading: rows being written, seen by no reader; loaded: visible; rejected: the file refused (reject_reason);'
        ' failed: the landing failed or died, its rows removed';
    CREATE SEQUENCE audit.load_batch_loaded_seq;
    ALTER TABLE audit.load_batch ADD COLUMN loaded_seq bigint;
    UPDATE audit.load_batch SET loaded_seq = batch_id WHERE status = 'loaded';
    SELECT setval('audit.load_batch_loaded_seq', (SELECT coalesce(max(batch_id), 0) + 1 FROM audit.load_batch), false);
    CREATE UNIQUE INDEX load_batch_loaded_seq_idx ON audit.load_batch (loaded_seq);
    COMMENT ON COLUMN audit.load_batch.loaded_seq IS 'the order in which batches became visible (loaded)';
    -- numbered by the database whoever marks a batch loaded (the loader, a fixture, a repair by hand)
    CREATE FUNCTION audit.number_loaded_batch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.status = 'loaded' AND NEW.loaded_seq IS NULL THEN
            NEW.loaded_seq := nextval('audit.load_batch_loaded_seq');
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER number_loaded_batch BEFORE INSERT OR UPDATE OF status ON audit.load_batch
        FOR EACH ROW EXECUTE FUNCTION audit.number_loaded_batch();
    GRANT ALL ON SEQUENCE audit.load_batch_loaded_seq TO ltc_etl;
    ALTER TABLE register.build_run RENAME COLUMN max_batch_id TO max_loaded_seq;
    ALTER TABLE audit.period RENAME COLUMN max_batch_id TO max_loaded_seq;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE audit.period RENAME COLUMN max_loaded_seq TO max_batch_id;
    ALTER TABLE register.build_run RENAME COLUMN max_loaded_seq TO max_batch_id;
    DROP TRIGGER number_loaded_batch ON audit.load_batch;
    DROP FUNCTION audit.number_loaded_batch();
    ALTER TABLE audit.load_batch DROP COLUMN loaded_seq;
    DROP SEQUENCE audit.load_batch_loaded_seq;
    UPDATE audit.load_batch SET status = 'rejected' WHERE status = 'failed';
    ALTER TABLE audit.load_batch DROP CONSTRAINT load_batch_status_check;
    ALTER TABLE audit.load_batch ADD CONSTRAINT load_batch_status_check
        CHECK (status IN ('loading', 'loaded', 'rejected'));
    """)
