"""Monitoring marts: worklist schema, settings (pseudonym salt, under-delivery share), configuration
tables for KPIs and coverage, and the access roles (ETL writer, RKC reader, ТКЦ readers by
municipality through row-level security, worklist readers).

Roles are cluster-wide in PostgreSQL, so they are created only when missing; the municipality of
each ТКЦ role is data of this database (ref.tkc_role).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ROLES = ["ltc_etl", "ltc_rkc_reader", "ltc_tkc_reader", "ltc_worklist_reader"]


def upgrade() -> None:
    for role in ROLES:
        op.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN "
                   f"CREATE ROLE {role} NOLOGIN; END IF; END $$")
    op.execute("""
    CREATE SCHEMA IF NOT EXISTS worklist;
    COMMENT ON SCHEMA worklist IS 'lists of persons to act on, with identities: granted to worklist readers only';

    CREATE TABLE ref.setting (
        key    text PRIMARY KEY,
        value  text NOT NULL,
        note   text
    );
    INSERT INTO ref.setting VALUES
        ('pseudonym_salt', md5(random()::text || clock_timestamp()::text),
         'secret of this database: marts carry md5(salt:person_id) instead of any identifier'),
        ('under_delivery_share', '0.9',
         'a recipient-month is under-delivered when delivered minutes are below this share of assigned'),
        ('reassessment_months', '11', 'an assessment older than this is due for reassessment');

    -- Which municipality each ТКЦ login role may see (row-level security on the marts).
    CREATE TABLE ref.tkc_role (
        role_name  text PRIMARY KEY,
        oktmo      text NOT NULL REFERENCES ref.municipality
    );

    -- Configuration loaded from sql/seeds/*.csv at every marts build (the files are the configuration).
    CREATE TABLE ref.kpi_definition (
        code         text PRIMARY KEY,
        name_ru      text NOT NULL,
        numerator    text NOT NULL,
        denominator  text,
        multiplier   text NOT NULL,
        unit         text NOT NULL,
        source       text NOT NULL CHECK (source IN ('data', 'parameter')),
        formula_ru   text NOT NULL
    );
    CREATE TABLE ref.kpi_parameter (
        name   text NOT NULL,
        year   integer NOT NULL,
        value  numeric NOT NULL,
        unit   text NOT NULL,
        note   text NOT NULL,
        PRIMARY KEY (name, year)
    );
    CREATE TABLE ref.coverage_target (
        year          integer PRIMARY KEY,
        target_share  numeric NOT NULL,
        basis         text NOT NULL
    );
    CREATE TABLE ref.coverage_base (
        year     integer NOT NULL,
        oktmo    text NOT NULL REFERENCES ref.municipality,
        persons  integer NOT NULL CHECK (persons > 0),
        note     text NOT NULL,
        PRIMARY KEY (year, oktmo)
    );

    GRANT USAGE ON SCHEMA marts TO ltc_rkc_reader, ltc_tkc_reader;
    GRANT USAGE ON SCHEMA worklist TO ltc_worklist_reader;
    GRANT USAGE ON SCHEMA ref TO ltc_rkc_reader, ltc_tkc_reader, ltc_worklist_reader;
    GRANT SELECT ON ref.tkc_role, ref.municipality TO ltc_rkc_reader, ltc_tkc_reader, ltc_worklist_reader;
    GRANT USAGE ON SCHEMA raw, staging, quarantine, register, build, marts, worklist, audit, ref TO ltc_etl;
    GRANT ALL ON ALL TABLES IN SCHEMA raw, staging, quarantine, register, build, marts, worklist, audit, ref
        TO ltc_etl;
    GRANT ALL ON ALL SEQUENCES IN SCHEMA raw, staging, quarantine, register, audit TO ltc_etl;
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE ref.coverage_base, ref.coverage_target, ref.kpi_parameter, ref.kpi_definition, ref.tkc_role,
        ref.setting;
    DROP SCHEMA worklist CASCADE;
    """)
