"""Medical secrecy for the medical events: the health-ministry event extracts and the ОМС registers carry
no consent, so no diagnosis from them is stored; staging says where one was withheld.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE staging.health_medical_event ADD COLUMN diagnosis_withheld boolean NOT NULL DEFAULT false")
    # diagnoses staged before this rule: withheld now, like the ones that come after it
    op.execute("UPDATE staging.health_medical_event SET diagnosis_withheld = true, icd10 = NULL WHERE icd10 IS NOT NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE staging.health_medical_event DROP COLUMN diagnosis_withheld")
