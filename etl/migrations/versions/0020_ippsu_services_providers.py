"""The care model's entities in full (issue 18, item 1), OPTIMA format 1.2: the individual programme
(ИППСУ: number, issue date, form of service, provider), the providers (name, ИНН, state or not), and per
supplement its care services from the catalogue with their schedule (visits a day, days a week); the
supplement names its ИППСУ, the need as assessed and whether residential care was offered. The
catalogue of care services (code, name, standard minutes, validity) is configuration, reloaded from
sql/seeds/care_service.csv like the other rules.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

LINEAGE = """
    stg_id      bigserial PRIMARY KEY,
    batch_id    bigint NOT NULL,
    locator     text   NOT NULL,
    export_id   text   NOT NULL,"""


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE staging.optima_ippsu ({LINEAGE}
        ippsu_id         text NOT NULL,
        recipient_id     text NOT NULL,
        assessment_id    text,
        number           text NOT NULL,
        issue_date       date NOT NULL,
        form_of_service  text NOT NULL CHECK (form_of_service IN ('home', 'semi_residential', 'residential')),
        provider_id      text,
        end_date         date
    );
    CREATE TABLE staging.optima_provider ({LINEAGE}
        provider_id  text NOT NULL,
        name         text NOT NULL,
        inn          text CHECK (inn ~ '^([0-9]{{10}}|[0-9]{{12}})$'),
        ownership    text NOT NULL CHECK (ownership IN ('state', 'non_state')),
        oktmo        text
    );
    CREATE TABLE staging.optima_supplement_service ({LINEAGE}
        supplement_id      text NOT NULL,
        service_code       text NOT NULL,
        visits_per_day     smallint NOT NULL CHECK (visits_per_day BETWEEN 1 AND 24),
        days_per_week      smallint NOT NULL CHECK (days_per_week BETWEEN 1 AND 7),
        minutes_per_visit  integer CHECK (minutes_per_visit > 0)
    );
    ALTER TABLE staging.optima_supplement
        ADD COLUMN ippsu_id text,
        ADD COLUMN need_minutes_per_week integer CHECK (need_minutes_per_week >= 0),
        ADD COLUMN residential_offered boolean;
    CREATE TABLE ref.care_service (
        code              text NOT NULL,
        name_ru           text NOT NULL,
        care_group        text NOT NULL,
        standard_minutes  integer NOT NULL CHECK (standard_minutes > 0),
        valid_from        date NOT NULL,
        valid_to          date,
        basis             text NOT NULL,
        PRIMARY KEY (code, valid_from)
    );
    COMMENT ON TABLE ref.care_service IS
        'Catalogue of care services with the standard minutes of one provision (sql/seeds/care_service.csv)';
    GRANT ALL ON staging.optima_ippsu, staging.optima_provider, staging.optima_supplement_service,
        ref.care_service TO ltc_etl;
    GRANT ALL ON SEQUENCE staging.optima_ippsu_stg_id_seq, staging.optima_provider_stg_id_seq,
        staging.optima_supplement_service_stg_id_seq TO ltc_etl;
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE staging.optima_ippsu, staging.optima_provider, staging.optima_supplement_service, ref.care_service;
    ALTER TABLE staging.optima_supplement DROP COLUMN ippsu_id, DROP COLUMN need_minutes_per_week,
        DROP COLUMN residential_offered;
    """)
