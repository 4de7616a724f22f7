"""ФРИ disability extracts (ВыпискаФРИ) staged; ФРИ as the most trusted source of SNILS.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE staging.smev_disability (
        stg_id              bigserial PRIMARY KEY,
        batch_id            bigint NOT NULL,
        locator             text NOT NULL,
        message_id          text NOT NULL,
        extract_id          text NOT NULL,
        extract_time        timestamp,
        snils               text CHECK (snils ~ '^[0-9]{11}$'),
        snils_raw           text,
        surname             text,
        first_name          text,
        patronymic          text,
        sex                 char(1) CHECK (sex IN ('M', 'F')),
        birth_date          date,
        disability_group    smallint CHECK (disability_group BETWEEN 1 AND 4),
        date_from           date,
        date_to             date,
        mse_act_number      text,
        mse_act_date        date,
        reexamination_date  date,
        cause_code          text,
        cause_name          text,
        is_child            boolean
    );
    COMMENT ON COLUMN staging.smev_disability.disability_group IS '1–3; 4 = disabled child (ФРИ coding)';
    -- the Pension and Social Fund issues SNILS: its extract is the first source of a person's SNILS
    -- (two steps: ranks are unique per attribute, and a unique check is made row by row)
    UPDATE ref.source_trust SET rank = rank + 100 WHERE attribute IN ('snils', 'identity');
    UPDATE ref.source_trust SET rank = rank - 99 WHERE attribute IN ('snils', 'identity');
    INSERT INTO ref.source_trust (attribute, entity, rank, basis) VALUES
        ('snils', 'smev_disability', 1, 'ФРИ (СФР): СНИЛС из сведений Социального фонда'),
        ('identity', 'smev_disability', 1, 'ФРИ (СФР): персональные данные из сведений Социального фонда');
    """)


def downgrade() -> None:
    op.execute("""
    DELETE FROM ref.source_trust WHERE entity = 'smev_disability';
    UPDATE ref.source_trust SET rank = rank + 100 WHERE attribute IN ('snils', 'identity');
    UPDATE ref.source_trust SET rank = rank - 101 WHERE attribute IN ('snils', 'identity');
    DROP TABLE staging.smev_disability;
    """)
