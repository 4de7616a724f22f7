"""Who is at the screen: logins (a login is the PostgreSQL role of the same name, so row-level security
by municipality applies to what they read, unchanged), passwords hashed with scrypt, sessions that
expire (idle and absolute), a CSRF token per session. Nothing here trusts the browser but the session
cookie, which holds a random token whose hash alone is stored.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from etl.base import db, settings
from etl.base.passwords import check_password, hash_password

ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RKC, TKC, WORKLIST = "ltc_rkc_reader", "ltc_tkc_reader", "ltc_worklist_reader"


@dataclass
class User:
    login: str
    rkc: bool
    municipalities: list[str]
    worklists: bool
    csrf: str
    places: list[str] | None = None  # the municipalities' names, for the header

    @property
    def kind(self) -> str:
        return "РКЦ" if self.rkc else "ТКЦ"

    def sees(self, oktmo: str | None) -> bool:
        return self.rkc or (oktmo is not None and oktmo in self.municipalities)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(login_name: str, password: str) -> str | None:
    """A new session's token for a valid login and password (None otherwise: which of the two was wrong is
    not said). The same time is spent on an unknown login as on a known one."""
    cfg = settings.current()
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT password_hash FROM web.user_account WHERE login = %s AND NOT disabled", (login_name,))
        row = cur.fetchone()
        ok = check_password(password, row[0] if row else hash_password("not a user: same work"))
        if not (row and ok and _role_exists(cur, login_name)):
            return None
        token = secrets.token_urlsafe(32)
        cur.execute("INSERT INTO web.session (token_hash, login, csrf, expires_at) VALUES (%s, %s, %s, %s)",
                    (_token_hash(token), login_name, secrets.token_urlsafe(32),
                     _now() + dt.timedelta(hours=cfg.web_session_hours)))
        cur.execute("DELETE FROM web.session WHERE expires_at < now() OR last_seen < now() - %s * interval '1 minute'",
                    (cfg.web_idle_minutes,))  # sessions over go (a closed browser does not log out)
        return token


def _role_exists(cur, role: str) -> bool:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    return cur.fetchone() is not None


class Expired(Exception):
    """The session was there but is over (idle too long, or past its absolute end)."""


def user_of(token: str | None) -> User | None:
    """The user of a session token, its idle clock restarted; None without a session; Expired when over."""
    if not token:
        return None
    cfg = settings.current()
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT login, csrf, last_seen, expires_at FROM web.session WHERE token_hash = %s FOR UPDATE",
                    (_token_hash(token),))
        row = cur.fetchone()
        if row is None:
            return None
        name, csrf, last_seen, expires_at = row
        now = _now()
        over = now > expires_at or now - last_seen > dt.timedelta(minutes=cfg.web_idle_minutes)
        if over:  # deleted in this transaction, which an exception raised inside it would roll back
            cur.execute("DELETE FROM web.session WHERE token_hash = %s", (_token_hash(token),))
        else:
            cur.execute("UPDATE web.session SET last_seen = now() WHERE token_hash = %s", (_token_hash(token),))
            cur.execute("SELECT pg_has_role(%s, %s, 'MEMBER'), pg_has_role(%s, %s, 'MEMBER')",
                        (name, RKC, name, WORKLIST))
            rkc, worklists = cur.fetchone()
            cur.execute("SELECT t.oktmo, coalesce(m.name, t.oktmo) FROM ref.tkc_role t "
                        "LEFT JOIN ref.municipality m USING (oktmo) WHERE t.role_name = %s ORDER BY t.oktmo", (name,))
            places = cur.fetchall()
    if over:
        raise Expired(name)
    return User(name, rkc, [m for m, _ in places], worklists, csrf, [n for _, n in places])


def logout(token: str | None) -> None:
    if token:
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM web.session WHERE token_hash = %s", (_token_hash(token),))


def csrf_ok(user: User, sent: str | None) -> bool:
    # as bytes: compare_digest refuses a str with non-ASCII characters, which a forged form may carry
    return bool(sent) and hmac.compare_digest(user.csrf.encode(), sent.encode("utf-8", "replace"))


def audit(login_name: str | None, action: str, target: str | None, outcome: str, detail: dict | None = None) -> None:
    """Every read of a person's identity and every decision taken on a screen (web.audit)."""
    import json

    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO web.audit (login, action, target, outcome, detail) VALUES (%s, %s, %s, %s, %s)",
                    (login_name, action, target, outcome, json.dumps(detail or {}, ensure_ascii=False, default=str)))
