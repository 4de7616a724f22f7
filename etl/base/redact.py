"""Error messages fit for logs, task logs, e-mails and the terminal: no record's identity in them.

Database engines quote the values they choke on: PostgreSQL's `invalid input syntax for type date:
"31.02.1950"` with a DETAIL naming the key, DuckDB's whole CSV line (SNILS, name, birth date,
address), Python's `invalid literal for int(): 'Иванов'`. Our own messages carry codes and counts.
Whatever raised it, a message that leaves the process is its first line with every quoted value,
every SNILS-shaped number, every date and every capitalised Cyrillic word masked.
"""
from __future__ import annotations

import re

MASK = "…"
# quoted text ('…', "…", «…») — engines put values there; and what looks like a SNILS, an ENP or a date
_PATTERNS = [
    re.compile(r"'[^'\n]*'"), re.compile(r'"[^"\n]*"'), re.compile(r"«[^»\n]*»"),
    re.compile(r"\b\d{3}-\d{3}-\d{3}[ -]?\d{2}\b"), re.compile(r"\b\d{9,16}\b"),
    re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b"), re.compile(r"\b\d{1,2}\.\d{1,2}\.\d{2,4}\b"),
    re.compile(r"(?<=Bytes:)( 0x[0-9A-Fa-f]{2})+"),  # libxml2 shows the undecodable bytes (part of a name)
    # a capitalised Cyrillic word, quoted or not, may be a name; engines' Russian messages are lower case
    re.compile(r"\b[А-ЯЁ][А-ЯЁа-яё-]+\b"),
]
_ORIGINAL_LINE = re.compile(r"\s*Original Line:.*", re.S)  # DuckDB's CSV errors append the row


def safe_text(text: str, limit: int = 300) -> str:
    """`text` cut to its first line and `limit` characters, values masked."""
    first = _ORIGINAL_LINE.sub("", str(text)).strip().splitlines()
    line = first[0] if first else ""
    for pattern in _PATTERNS:
        line = pattern.sub(MASK, line)
    return line[:limit]


def safe_message(exc: BaseException | None, limit: int = 300) -> str | None:
    """`Class: first line` of an exception, values masked (psycopg2's DETAIL and CONTEXT never shown)."""
    if exc is None:
        return None
    primary = getattr(getattr(exc, "diag", None), "message_primary", None)  # psycopg2: no DETAIL/CONTEXT
    text = safe_text(primary if primary else str(exc), limit)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def scrub(exc: BaseException | None) -> None:
    """Mask the messages of an exception and of every exception chained to it, in place: re-raised, it
    keeps its type and traceback (callers catch it as before) and prints nothing but the safe text."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "carries_no_values", False):  # our own message of codes and counts, kept whole
            exc = exc.__cause__ or exc.__context__
            continue
        primary = getattr(getattr(exc, "diag", None), "message_primary", None)
        try:
            exc.args = (safe_text(primary if primary else str(exc)),)
        except (AttributeError, TypeError):  # an exception whose message is not its args
            pass
        exc = exc.__cause__ or exc.__context__


def guarded(fn):
    """Decorate a pipeline step (what a DAG task or the CLI calls): whatever it raises leaves scrubbed."""
    import functools

    @functools.wraps(fn)
    def step(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BaseException as e:
            scrub(e)
            raise
    return step
