"""Every rule of the care model as data with validity dates (issue 18, item 2): thresholds that sat
in code or in ref.setting (reassessment period, under-delivery shares, the residential-care offer
above 28 hours, the open hospital stay, the age window of the checks), schedule limits by level,
working-age boundaries by year, identification channels and priority categories as code lists.
Each table is loaded from its CSV under sql/seeds/ (or LTC_CONFIG_DIR) before every register build,
checkpoint and marts build (etl/models/sqlmodels.CONFIG_TABLES), not by this migration.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE ref.care_rule (
        rule        text NOT NULL,
        value       numeric NOT NULL,
        unit        text NOT NULL,
        valid_from  date NOT NULL,
        valid_to    date,
        basis       text NOT NULL,
        PRIMARY KEY (rule, valid_from),
        CHECK (valid_to IS NULL OR valid_to >= valid_from)
    );
    COMMENT ON TABLE ref.care_rule IS
        'Thresholds of the care model with their validity (sql/seeds/care_rule.csv): the value in force on a date';
    CREATE TABLE ref.care_schedule_limit (
        care_level          smallint NOT NULL CHECK (care_level BETWEEN 1 AND 3),
        max_visits_per_day  smallint NOT NULL CHECK (max_visits_per_day > 0),
        min_days_per_week   smallint NOT NULL CHECK (min_days_per_week BETWEEN 1 AND 7),
        max_days_per_week   smallint NOT NULL CHECK (max_days_per_week BETWEEN 1 AND 7),
        valid_from          date NOT NULL,
        valid_to            date,
        basis               text NOT NULL,
        CHECK (min_days_per_week <= max_days_per_week)
    );
    COMMENT ON TABLE ref.care_schedule_limit IS
        'Schedules a level allows (sql/seeds/care_schedule_limit.csv): a supplement fits when it fits one row of its level in force';
    CREATE TABLE ref.working_age (
        year             smallint NOT NULL,
        sex              char(1) NOT NULL CHECK (sex IN ('M', 'F')),
        older_from_age   smallint NOT NULL,
        basis            text NOT NULL,
        PRIMARY KEY (year, sex)
    );
    COMMENT ON TABLE ref.working_age IS
        'Older than working age from this age in that year (sql/seeds/working_age.csv); a year without rows is unknown, not guessed';
    CREATE TABLE ref.identification_channel (
        code     text PRIMARY KEY,
        name_ru  text NOT NULL,
        kind     text NOT NULL,
        basis    text
    );
    CREATE TABLE ref.priority_category (
        code     text PRIMARY KEY,
        name_ru  text NOT NULL,
        basis    text NOT NULL
    );
    GRANT ALL ON ref.care_rule, ref.care_schedule_limit, ref.working_age, ref.identification_channel,
        ref.priority_category TO ltc_etl;
    DELETE FROM ref.setting WHERE key IN ('under_delivery_share', 'reassessment_months', 'open_hospital_stay_days');
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE ref.care_rule, ref.care_schedule_limit, ref.working_age, ref.identification_channel,
        ref.priority_category;
    INSERT INTO ref.setting VALUES
        ('under_delivery_share', '0.9',
         'a recipient-month is under-delivered when delivered minutes are below this share of assigned'),
        ('reassessment_months', '11', 'an assessment older than this is due for reassessment'),
        ('open_hospital_stay_days', '30', 'how long a hospital stay without a discharge date counts')
    ON CONFLICT DO NOTHING;
    """)
