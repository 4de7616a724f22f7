"""OPTIMA export: contracts, staff, rental of rehabilitation aids, care-school trainings.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LINEAGE = """
    stg_id      bigserial PRIMARY KEY,
    batch_id    bigint NOT NULL,
    locator     text   NOT NULL,
    export_id   text   NOT NULL,"""


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE staging.optima_contract ({LINEAGE}
        contract_id    text NOT NULL,
        recipient_id   text NOT NULL,
        supplement_id  text,
        provider_id    text,
        contract_date  date NOT NULL,
        start_date     date NOT NULL,
        end_date       date
    );
    CREATE TABLE staging.optima_staff ({LINEAGE}
        staff_id               text NOT NULL,
        role                   text NOT NULL CHECK (role IN ('care_assistant', 'care_organiser', 'needs_expert')),
        provider_id            text,
        oktmo                  text,
        hire_date              date NOT NULL,
        leave_date             date,
        is_relative            boolean NOT NULL DEFAULT false,
        relative_recipient_id  text,
        previously_unemployed  boolean,
        kept_main_job          boolean
    );
    CREATE TABLE staging.optima_rental ({LINEAGE}
        rental_id       text NOT NULL,
        point_id        text NOT NULL,
        oktmo           text,
        recipient_id    text,
        item_code       text NOT NULL,
        requested_date  date NOT NULL,
        issued_date     date,
        returned_date   date
    );
    CREATE TABLE staging.optima_care_school ({LINEAGE}
        training_id    text NOT NULL,
        school_id      text NOT NULL,
        oktmo          text,
        trainee_kind   text NOT NULL CHECK (trainee_kind IN ('relative', 'care_assistant', 'other')),
        recipient_id   text,
        training_date  date NOT NULL,
        hours          numeric(6, 2)
    );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE staging.optima_contract, staging.optima_staff, staging.optima_rental,"
               " staging.optima_care_school")
