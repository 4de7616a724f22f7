"""Screens for the people who act on the register (issue 19): who may log in (a login per PostgreSQL
role: its password hashed here too, since an embedded or trust-authenticated server checks none),
their sessions (expiring, each with its CSRF token), the audit of every read of a person's identity and
every decision taken on a screen, and the state of each worklist item (owner, status, comment).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE SCHEMA IF NOT EXISTS web;
    COMMENT ON SCHEMA web IS 'the screens: logins, sessions, their audit (etl/web)';
    CREATE TABLE web.user_account (
        login          text PRIMARY KEY,
        password_hash  text NOT NULL,
        display_name   text,
        created_at     timestamptz NOT NULL DEFAULT now(),
        disabled       boolean NOT NULL DEFAULT false
    );
    COMMENT ON TABLE web.user_account IS 'a screen login is the PostgreSQL role of the same name; scrypt hash';
    CREATE TABLE web.session (
        token_hash  text PRIMARY KEY,
        login       text NOT NULL REFERENCES web.user_account ON DELETE CASCADE,
        csrf        text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        last_seen   timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL
    );
    CREATE TABLE web.audit (
        audit_id  bigserial PRIMARY KEY,
        at        timestamptz NOT NULL DEFAULT now(),
        login     text,
        action    text NOT NULL,
        target    text,
        outcome   text NOT NULL,
        detail    jsonb
    );
    CREATE INDEX ON web.audit (at);
    CREATE TABLE worklist.item_state (
        worklist    text NOT NULL,
        item_key    text NOT NULL,
        owner       text,
        status      text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'done')),
        comment     text,
        updated_by  text NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (worklist, item_key)
    );
    COMMENT ON TABLE worklist.item_state IS 'who works a worklist item and how far; kept across rebuilds by its key';
    GRANT USAGE ON SCHEMA web TO ltc_etl;
    GRANT ALL ON ALL TABLES IN SCHEMA web TO ltc_etl;
    GRANT ALL ON SEQUENCE web.audit_audit_id_seq TO ltc_etl;
    GRANT ALL ON worklist.item_state TO ltc_etl;
    """)


def downgrade() -> None:
    op.execute("DROP TABLE worklist.item_state; DROP SCHEMA web CASCADE;")
