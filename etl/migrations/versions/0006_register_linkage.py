"""The register on probabilistic linkage: model versions, link explanations, review queue, manual
decisions, merges with redirects, and a history of every link change.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    -- v1 blocking keys: the linkage engine blocks inside DuckDB now
    DROP TABLE register.person_key;

    ALTER TABLE register.person
        ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged')),
        ADD COLUMN merged_into bigint REFERENCES register.person,
        ADD CONSTRAINT person_merged_has_target CHECK ((status = 'merged') = (merged_into IS NOT NULL));
    COMMENT ON COLUMN register.person.merged_into IS
        'a merged person keeps its register id as a redirect to the person it was merged into';

    -- Trained linkage models, versioned; every automatic link names the model that made it.
    CREATE TABLE register.linkage_model (
        model_id     serial PRIMARY KEY,
        trained_at   timestamptz NOT NULL DEFAULT now(),
        source       text NOT NULL,          -- trained on the register, or the packaged default
        settings     jsonb NOT NULL,
        model        jsonb NOT NULL,
        active       boolean NOT NULL DEFAULT false
    );
    CREATE UNIQUE INDEX linkage_model_one_active ON register.linkage_model (active) WHERE active;

    ALTER TABLE register.person_link
        ADD COLUMN match_weight double precision,
        ADD COLUMN model_id integer REFERENCES register.linkage_model,
        ADD COLUMN explanation jsonb,
        ADD COLUMN linked_by text NOT NULL DEFAULT 'system';

    -- Pairs a person should look at, and the decisions taken on them. A decided pair is a manual
    -- link ('match') or a manual separation ('no_match') that no automatic run overrides.
    CREATE TABLE register.review (
        review_id     bigserial PRIMARY KEY,
        entity_l      text NOT NULL,
        stg_id_l      bigint NOT NULL,
        entity_r      text NOT NULL,
        stg_id_r      bigint NOT NULL,
        reason        text NOT NULL,
        match_weight  double precision,
        explanation   jsonb,
        status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'decided', 'obsolete')),
        decision      text CHECK (decision IN ('match', 'no_match')),
        decided_by    text,
        decided_at    timestamptz,
        comment       text,
        created_at    timestamptz NOT NULL DEFAULT now(),
        CHECK ((status = 'decided') = (decision IS NOT NULL)),
        UNIQUE (entity_l, stg_id_l, entity_r, stg_id_r)
    );
    CREATE INDEX ON register.review (status);

    -- A merge moves the links of one person to another; the moved links are kept for an unmerge.
    CREATE TABLE register.merge (
        merge_id          bigserial PRIMARY KEY,
        kept_person_id    bigint NOT NULL REFERENCES register.person,
        merged_person_id  bigint NOT NULL REFERENCES register.person,
        moved_links       jsonb NOT NULL,
        review_id         bigint REFERENCES register.review,
        actor             text NOT NULL,
        reason            text,
        merged_at         timestamptz NOT NULL DEFAULT now(),
        undone_at         timestamptz,
        undone_by         text
    );

    -- Every change of a record's person: who, when, why, with what score.
    CREATE TABLE register.link_history (
        history_id      bigserial PRIMARY KEY,
        at              timestamptz NOT NULL DEFAULT now(),
        action          text NOT NULL,   -- link, new, merge, unmerge, detach, manual_link
        entity          text,
        stg_id          bigint,
        person_id       bigint,
        from_person_id  bigint,
        match_weight    double precision,
        actor           text NOT NULL,
        reason          text,
        run_id          text
    );
    CREATE INDEX ON register.link_history (entity, stg_id);
    CREATE INDEX ON register.link_history (person_id);
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE register.link_history, register.merge, register.review;
    ALTER TABLE register.person_link DROP COLUMN match_weight, DROP COLUMN model_id, DROP COLUMN explanation,
        DROP COLUMN linked_by;
    DROP TABLE register.linkage_model;
    ALTER TABLE register.person DROP CONSTRAINT person_merged_has_target, DROP COLUMN merged_into,
        DROP COLUMN status;
    CREATE TABLE register.person_key (
        key_type text NOT NULL, key_value text NOT NULL,
        person_id bigint NOT NULL REFERENCES register.person, PRIMARY KEY (key_type, key_value));
    """)
