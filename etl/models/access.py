"""Who may read what: roles, grants and row-level security on the published marts and worklists.

- ltc_rkc_reader: every mart and, with ltc_worklist_reader, every worklist row;
- ltc_tkc_reader: marts that carry a municipality (oktmo), only the rows of the municipalities its
  login role is mapped to in ref.tkc_role (a ТКЦ may cover several); region-wide marts (data quality)
  are not granted, and the region's rows of a mart (oktmo NULL: the KPIs of the whole region) are
  not its;
- ltc_worklist_reader: the worklists (identities), under the same municipality policy.
Published tables are recreated at each publication, so protection is applied there (protect()).
"""
from __future__ import annotations

import re

from etl.base import db

RKC, TKC, WORKLIST = "ltc_rkc_reader", "ltc_tkc_reader", "ltc_worklist_reader"
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def protect(cur, schema: str, table: str) -> None:
    cur.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
                " AND column_name = 'oktmo'", (schema, table))
    by_municipality = cur.fetchone() is not None
    qualified = f"{schema}.{table}"
    readers = [WORKLIST] if schema == "worklist" else ([RKC, TKC] if by_municipality else [RKC])
    cur.execute(f"GRANT SELECT ON {qualified} TO {', '.join(readers)}")
    cur.execute(f"GRANT ALL ON {qualified} TO ltc_etl")
    if by_municipality:
        cur.execute(f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY")
        cur.execute(f"""CREATE POLICY by_municipality ON {qualified} FOR SELECT USING (
            pg_has_role(current_user, '{RKC}', 'MEMBER')
            OR oktmo IN (SELECT t.oktmo FROM ref.tkc_role t WHERE t.role_name = current_user))""")


def _check_role(name: str) -> None:
    if not _ROLE.match(name):
        raise ValueError(f"role name {name!r}: lower-case letters, digits and _ only")


def _ensure_login(cur, role: str, password: str | None) -> None:
    """The login role, its database password and the same password for the screens (web.user_account,
    hashed: an embedded or trust-authenticated server checks none); the service may act as it (SET ROLE),
    which is how the screens read under its row-level security."""
    from etl.base.passwords import hash_password

    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    if cur.fetchone() is None:
        cur.execute(f"CREATE ROLE {role} LOGIN")
    cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not cur.fetchone()[0]:
        cur.execute(f"GRANT {role} TO current_user")
    if password:
        if len(password) < 8:
            raise ValueError("a password has at least 8 characters")
        cur.execute(f"ALTER ROLE {role} PASSWORD %s", (password,))
        cur.execute("""INSERT INTO web.user_account (login, password_hash) VALUES (%s, %s)
                       ON CONFLICT (login) DO UPDATE SET password_hash = excluded.password_hash, disabled = false""",
                    (role, hash_password(password)))


def grant_tkc(role: str, oktmo: str | list[str], worklists: bool = False, password: str | None = None) -> None:
    """A ТКЦ login role: marts of its municipalities (and their worklists when asked). Municipalities add
    up: granting another one keeps those granted before (revoke_tkc takes one away)."""
    _check_role(role)
    municipalities = [oktmo] if isinstance(oktmo, str) else list(oktmo)
    if not municipalities:
        raise ValueError("a ТКЦ role needs at least one municipality")
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT m FROM unnest(%s::text[]) AS u(m) WHERE m NOT IN (SELECT oktmo FROM ref.municipality)",
                    (municipalities,))
        unknown = [m for (m,) in cur.fetchall()]
        if unknown:
            raise ValueError(f"unknown municipality {', '.join(unknown)}")
        _ensure_login(cur, role, password)
        cur.execute(f"GRANT {TKC} TO {role}")
        if worklists:
            cur.execute(f"GRANT {WORKLIST} TO {role}")
        cur.execute("INSERT INTO ref.tkc_role (role_name, oktmo) SELECT %s, m FROM unnest(%s::text[]) AS u(m)"
                    " ON CONFLICT DO NOTHING", (role, municipalities))


def revoke_tkc(role: str, oktmo: str | list[str]) -> int:
    """Take municipalities away from a ТКЦ role; returns how many it still has."""
    _check_role(role)
    municipalities = [oktmo] if isinstance(oktmo, str) else list(oktmo)
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM ref.tkc_role WHERE role_name = %s AND oktmo = ANY(%s)", (role, municipalities))
        cur.execute("SELECT count(*) FROM ref.tkc_role WHERE role_name = %s", (role,))
        return cur.fetchone()[0]


def municipalities_of(role: str) -> list[str]:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT oktmo FROM ref.tkc_role WHERE role_name = %s ORDER BY oktmo", (role,))
        return [m for (m,) in cur.fetchall()]


def grant_rkc(role: str, worklists: bool = False, password: str | None = None) -> None:
    """An RKC login role: every mart, every municipality (and the worklists when asked)."""
    _check_role(role)
    with db.transaction() as conn, conn.cursor() as cur:
        _ensure_login(cur, role, password)
        cur.execute(f"GRANT {RKC} TO {role}")
        if worklists:
            cur.execute(f"GRANT {WORKLIST} TO {role}")
