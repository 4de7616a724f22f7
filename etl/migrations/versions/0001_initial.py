"""Initial schema: raw landing, staging, quarantine, register, marts, audit and reference data.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
import csv
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEEDS = Path(__file__).resolve().parents[3] / "sql" / "seeds"

# Lineage columns shared by every staging table: the raw record is (batch_id, locator).
LINEAGE = """
    stg_id      bigserial PRIMARY KEY,
    batch_id    bigint NOT NULL REFERENCES audit.load_batch ON DELETE CASCADE,
    locator     text   NOT NULL,
"""
PERSON = """
    snils       text CHECK (snils ~ '^[0-9]{11}$'),
    snils_raw   text,
    surname     text,
    first_name  text,
    patronymic  text,
    sex         char(1) CHECK (sex IN ('M', 'F')),
    birth_date  date,
"""

DDL = f"""
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS register;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS ref;
CREATE SCHEMA IF NOT EXISTS build;  -- marts built here, published to marts only after the gate

-- audit ------------------------------------------------------------------------------------------
CREATE TABLE audit.load_batch (
    batch_id       bigserial PRIMARY KEY,
    source         text NOT NULL CHECK (source IN ('health', 'smev', 'optima')),
    file_name      text NOT NULL,
    file_sha256    text NOT NULL,
    file_size      bigint,
    status         text NOT NULL CHECK (status IN ('loading', 'loaded', 'rejected')),
    reject_reason  text,
    n_read         integer NOT NULL DEFAULT 0,
    n_staged       integer NOT NULL DEFAULT 0,
    n_quarantined  integer NOT NULL DEFAULT 0,
    run_id         text,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
-- A file whose exact bytes were loaded once is never loaded again.
CREATE UNIQUE INDEX load_batch_once ON audit.load_batch (source, file_sha256) WHERE status = 'loaded';

CREATE TABLE audit.pipeline_run (
    run_id       text PRIMARY KEY,
    dag_id       text NOT NULL,
    step         text,
    status       text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    summary      jsonb
);

CREATE TABLE audit.expectation_result (
    result_id         bigserial PRIMARY KEY,
    run_id            text NOT NULL,
    checkpoint        text NOT NULL,
    suite             text NOT NULL,
    asset             text,
    expectation       text NOT NULL,
    severity          text NOT NULL CHECK (severity IN ('critical', 'warning')),
    success           boolean NOT NULL,
    unexpected_count  bigint,
    element_count     bigint,
    sample_keys       jsonb,
    validated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON audit.expectation_result (run_id);

-- raw: every record read, byte for byte, with its lineage -------------------------------------
CREATE TABLE raw.record (
    batch_id      bigint NOT NULL REFERENCES audit.load_batch ON DELETE CASCADE,
    locator       text NOT NULL,
    source        text NOT NULL,
    entity        text NOT NULL,
    file_name     text NOT NULL,
    content_hash  text NOT NULL,
    payload       text NOT NULL,
    PRIMARY KEY (batch_id, locator)
);
CREATE INDEX ON raw.record (source, entity, content_hash);

-- quarantine: records that failed parsing or hard validation, with a reason code ---------------
CREATE TABLE quarantine.record (
    quarantine_id   bigserial PRIMARY KEY,
    batch_id        bigint NOT NULL REFERENCES audit.load_batch ON DELETE CASCADE,
    locator         text NOT NULL,
    source          text NOT NULL,
    entity          text NOT NULL,
    reason_code     text NOT NULL,
    detail          text,
    payload         text,
    quarantined_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (batch_id, locator)
);

-- staging: typed rows, one table per source entity -----------------------------------------------
CREATE TABLE staging.health_referral ({LINEAGE}
    mo_code             text NOT NULL,
    referral_id         text NOT NULL,
    referral_date       date NOT NULL,
    channel             text NOT NULL,
    enp                 text,{PERSON}
    address             text,
    oktmo               text,
    phone               text,
    icd10               text,
    consent             boolean NOT NULL,
    consent_date        date,
    diagnosis_withheld  boolean NOT NULL DEFAULT false
);

CREATE TABLE staging.health_medical_event ({LINEAGE}
    event_id    text NOT NULL,
    mo_code     text NOT NULL,
    event_type  text NOT NULL CHECK (event_type IN ('hospitalisation', 'day_hospital', 'outpatient', 'ambulance')),
    start_date  date NOT NULL,
    end_date    date,
    icd10       text,
    enp         text,{PERSON}
    oktmo       text
);

CREATE TABLE staging.smev_application ({LINEAGE}
    message_id    text NOT NULL,
    order_uuid    text,
    order_number  text,
    order_date    date,
    oszn_name     text,{PERSON}
    address       text,
    oktmo         text,
    phone         text
);

CREATE TABLE staging.smev_death ({LINEAGE}
    message_id            text NOT NULL,
    record_number         text NOT NULL,
    record_date           date,
    death_date            date,
    birth_date_precision  text CHECK (birth_date_precision IN ('day', 'month', 'year')),
    zags_code             text,{PERSON}
    address               text
);

CREATE TABLE staging.optima_recipient ({LINEAGE}
    export_id           text NOT NULL,
    recipient_id        text NOT NULL,{PERSON}
    address             text,
    oktmo               text,
    phone               text,
    priority_category   text,
    identified_channel  text,
    identified_date     date,
    status              text NOT NULL,
    status_date         date,
    exit_reason         text
);

CREATE TABLE staging.optima_assessment ({LINEAGE}
    export_id        text NOT NULL,
    assessment_id    text NOT NULL,
    recipient_id     text NOT NULL,
    assessment_date  date NOT NULL,
    care_level       smallint CHECK (care_level IN (1, 2, 3)),
    typing_group     smallint,
    points           numeric(6, 2)
);

CREATE TABLE staging.optima_supplement ({LINEAGE}
    export_id         text NOT NULL,
    supplement_id     text NOT NULL,
    recipient_id      text NOT NULL,
    assessment_id     text,
    care_level        smallint NOT NULL CHECK (care_level IN (1, 2, 3)),
    minutes_per_week  integer NOT NULL CHECK (minutes_per_week >= 0),
    provider_id       text,
    start_date        date NOT NULL,
    end_date          date
);

CREATE TABLE staging.optima_care_report ({LINEAGE}
    export_id          text NOT NULL,
    report_id          text NOT NULL,
    supplement_id      text NOT NULL,
    recipient_id       text NOT NULL,
    month              date NOT NULL CHECK (extract(day FROM month) = 1),
    service_code       text NOT NULL,
    minutes_delivered  integer NOT NULL CHECK (minutes_delivered >= 0),
    assistant_id       text
);

-- register -----------------------------------------------------------------------------------
CREATE TABLE register.person (
    person_id    bigserial PRIMARY KEY,
    register_id  text NOT NULL UNIQUE,
    snils        text,
    surname      text,
    first_name   text,
    patronymic   text,
    sex          char(1),
    birth_date   date,
    oktmo        text,
    death_date   date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Blocking keys owned by a person (valid SNILS, normalised name + birth date).
CREATE TABLE register.person_key (
    key_type   text NOT NULL,
    key_value  text NOT NULL,
    person_id  bigint NOT NULL REFERENCES register.person,
    PRIMARY KEY (key_type, key_value)
);

-- One link per staged person-bearing record.
CREATE TABLE register.person_link (
    entity     text NOT NULL,
    stg_id     bigint NOT NULL,
    person_id  bigint NOT NULL REFERENCES register.person,
    rule       text NOT NULL,
    linked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, stg_id)
);
CREATE INDEX ON register.person_link (person_id);

-- reference data (rules as data, with validity dates) ---------------------------------------------
CREATE TABLE ref.municipality (
    oktmo  text PRIMARY KEY,
    name    text NOT NULL,
    kind    text,
    center  text
);

CREATE TABLE ref.care_package_rule (
    care_level            smallint NOT NULL CHECK (care_level IN (1, 2, 3)),
    max_minutes_per_week  integer NOT NULL,
    valid_from            date NOT NULL,
    valid_to              date,
    basis                 text,
    PRIMARY KEY (care_level, valid_from)
);

CREATE TABLE ref.typing_group_level (
    typing_group  smallint PRIMARY KEY,
    care_level    smallint NOT NULL,
    basis         text
);

-- SNILS control number (official algorithm); numbers up to 001-001-998 carry no check.
CREATE FUNCTION ref.snils_is_valid(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN s IS NULL OR s !~ '^[0-9]{{11}}$' THEN false
        WHEN substr(s, 1, 9)::bigint <= 1001998 THEN true
        ELSE (SELECT CASE WHEN t < 100 THEN t WHEN t IN (100, 101) THEN 0 ELSE (t % 101) % 100 END
              FROM (SELECT sum(substr(s, i, 1)::int * (10 - i)) AS t FROM generate_series(1, 9) AS i) x)
             = substr(s, 10, 2)::int
    END
$$;

-- marts ----------------------------------------------------------------------------------------
CREATE TABLE marts.mart_recipients_by_level (
    month         date NOT NULL,
    oktmo         text NOT NULL,
    municipality  text NOT NULL,
    care_level    smallint NOT NULL,
    recipients    integer NOT NULL,
    entered       integer NOT NULL,
    exited        integer NOT NULL,
    published_at  timestamptz NOT NULL,
    PRIMARY KEY (month, oktmo, care_level)
);
"""


def _seed(table: str, filename: str) -> None:
    with open(SEEDS / filename, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        cols = ", ".join(row)
        params = ", ".join(f":{c}" for c in row)
        values = {k: (v if v != "" else None) for k, v in row.items()}
        op.execute(sa.text(f"INSERT INTO {table} ({cols}) VALUES ({params})").bindparams(**values))


def upgrade() -> None:
    op.execute(DDL)
    _seed("ref.municipality", "municipality.csv")
    _seed("ref.care_package_rule", "care_package_rule.csv")
    _seed("ref.typing_group_level", "typing_group_level.csv")


def downgrade() -> None:
    for schema in ("build", "marts", "register", "staging", "quarantine", "raw", "ref"):
        op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    op.execute("DROP TABLE IF EXISTS audit.expectation_result, audit.pipeline_run, audit.load_batch")
