"""Plans against facts (issue 18, item 4): the roadmap's plans per month and municipality — recipients by
level, staff by role, care-school trainings, the monthly budget — as configuration the RKC edits
(sql/seeds/plan.csv, or the same file in LTC_CONFIG_DIR; reloaded before every build), with the
indicators' names and what their fact is (plan_indicator.csv). mart_plan_fact compares them.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE ref.plan_indicator (
        code     text PRIMARY KEY,
        name_ru  text NOT NULL,
        unit     text NOT NULL,
        fact_ru  text NOT NULL
    );
    CREATE TABLE ref.plan (
        indicator   text NOT NULL,
        oktmo       text NOT NULL,
        month_from  date NOT NULL CHECK (extract(day FROM month_from) = 1),
        month_to    date CHECK (month_to IS NULL OR (extract(day FROM month_to) = 1 AND month_to >= month_from)),
        planned     numeric NOT NULL CHECK (planned >= 0),
        basis       text
    );
    COMMENT ON TABLE ref.plan IS
        'Planned value of an indicator in each month from month_from to month_to, per municipality (sql/seeds/plan.csv)';
    GRANT ALL ON ref.plan, ref.plan_indicator TO ltc_etl;
    """)


def downgrade() -> None:
    op.execute("DROP TABLE ref.plan, ref.plan_indicator")
