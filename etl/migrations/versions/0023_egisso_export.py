"""Export to ЕГИССО (issue 20): what a recipient's record there needs that the OPTIMA card did not carry
(birth place, citizenship, the identity document, e-mail — format 1.2 of recipients.csv), the codes of
ЕГИССО's classifiers for ours (ref.egisso_code, configuration from sql/seeds/egisso_code.csv), and the
export's own audit: each package written or sent (audit.egisso_package), the state of every exported
object — last sent and last accepted content (audit.egisso_object) — and the watermark per document
type, moved only when a package is accepted (audit.egisso_watermark).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE staging.optima_recipient
        ADD COLUMN birth_place text,
        ADD COLUMN citizenship text,
        ADD COLUMN email text,
        ADD COLUMN doc_type text,
        ADD COLUMN doc_series text,
        ADD COLUMN doc_number text,
        ADD COLUMN doc_date date,
        ADD COLUMN doc_issuer text,
        ADD COLUMN doc_issuer_code text;
    CREATE TABLE ref.egisso_code (
        kind         text NOT NULL,
        our_code     text NOT NULL,
        egisso_code  text NOT NULL,
        basis        text NOT NULL,
        PRIMARY KEY (kind, our_code)
    );
    COMMENT ON TABLE ref.egisso_code IS
        'Our codes in ЕГИССО''s classifiers (sql/seeds/egisso_code.csv): statuses, sources, forms, units, documents, ЛМСЗ';
    CREATE TABLE audit.egisso_package (
        package_id      uuid PRIMARY KEY,
        doc_type        text NOT NULL,
        run_id          text NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        records         integer NOT NULL,
        folder          text,
        client_id       text,
        sent_at         timestamptz,
        status          text NOT NULL CHECK (status IN ('written', 'sent', 'accepted', 'partly_accepted', 'rejected')),
        answered_at     timestamptz,
        accepted        integer,
        rejected        integer,
        message         text
    );
    CREATE TABLE audit.egisso_object (
        doc_type        text NOT NULL,
        object_uuid     uuid NOT NULL,
        object_key      text NOT NULL,
        content_hash    text,
        package_id      uuid,
        status          text NOT NULL CHECK (status IN ('held', 'sent', 'accepted', 'rejected')),
        reason          text,
        accepted_hash   text,
        accepted_at     timestamptz,
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (doc_type, object_uuid)
    );
    COMMENT ON TABLE audit.egisso_object IS
        'Each object exported to ЕГИССО: the content last sent (or held back, with the schema''s message) and last accepted';
    CREATE TABLE audit.egisso_watermark (
        doc_type     text PRIMARY KEY,
        accepted_at  timestamptz NOT NULL,
        package_id   uuid NOT NULL
    );
    GRANT ALL ON ref.egisso_code, audit.egisso_package, audit.egisso_object, audit.egisso_watermark TO ltc_etl;
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE ref.egisso_code, audit.egisso_package, audit.egisso_object, audit.egisso_watermark;
    ALTER TABLE staging.optima_recipient DROP COLUMN birth_place, DROP COLUMN citizenship, DROP COLUMN email,
        DROP COLUMN doc_type, DROP COLUMN doc_series, DROP COLUMN doc_number, DROP COLUMN doc_date,
        DROP COLUMN doc_issuer, DROP COLUMN doc_issuer_code;
    """)
