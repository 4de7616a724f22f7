"""Normalisation of person identifiers: SNILS, names, sex, dates.

Small pure functions shared by the connectors (casting to staging) and the register (keys).
"""
from __future__ import annotations

import datetime as dt
import functools
import re

_NON_DIGIT = re.compile(r"\D")


def snils_checksum(number9: str) -> str:
    """Control number of a SNILS from its first nine digits (official algorithm)."""
    total = sum(int(d) * w for d, w in zip(number9, range(9, 0, -1)))
    if total < 100:
        check = total
    elif total in (100, 101):
        check = 0
    else:
        check = total % 101
        if check == 100:
            check = 0
    return f"{check:02d}"


def snils_is_valid(snils: str | None) -> bool:
    if not snils or len(snils) != 11 or not snils.isdigit():
        return False
    if int(snils[:9]) <= 1001998:  # the oldest numbers carry no control number
        return True
    return snils_checksum(snils[:9]) == snils[9:]


def normalize_snils(value: str | None) -> tuple[str | None, str | None]:
    """Return (snils, problem): 11 digits when valid, else None and a reason code.

    Accepts '123-456-789 01', '12345678901', and Excel's numeric mangling that drops leading
    zeros ('2345678901' or '2345678901.0').
    """
    if value is None:
        return None, None
    text = str(value).strip()
    if not text:
        return None, None
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".")[0]
    digits = _NON_DIGIT.sub("", text)
    if not digits:
        return None, "snils_not_numeric"
    if len(digits) < 11 and re.fullmatch(r"[\d\s-]+", text) and len(digits) >= 7:
        digits = digits.zfill(11)
    if len(digits) != 11:
        return None, "snils_wrong_length"
    if not snils_is_valid(digits):
        return None, "snils_bad_checksum"
    return digits, None


def format_snils(snils: str) -> str:
    return f"{snils[0:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:11]}"


_LATIN_TO_CYR = str.maketrans({
    "a": "а", "b": "б", "c": "с", "d": "д", "e": "е", "f": "ф", "g": "г", "h": "х", "i": "и",
    "j": "й", "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "r": "р", "s": "с",
    "t": "т", "u": "у", "v": "в", "w": "в", "x": "х", "y": "ы", "z": "з",
})
_SPACES = re.compile(r"\s+")
_NAME_JUNK = re.compile(r"[^а-я\- ]")


def clean_name(value: str | None) -> str | None:
    """A name part as stored in staging: trimmed, inner spaces collapsed, original case kept."""
    if value is None:
        return None
    text = _SPACES.sub(" ", str(value)).strip()
    return text or None


def name_key(value: str | None) -> str:
    """A name part folded for comparison: lower case, ё→е, Latin look-alikes to Cyrillic."""
    if not value:
        return ""
    text = value.lower().replace("ё", "е").translate(_LATIN_TO_CYR)
    text = _NAME_JUNK.sub("", text)
    text = re.sub(r"\s*-\s*", "-", text)
    return _SPACES.sub(" ", text).strip()


def sex_from_patronymic(patronymic: str | None) -> str | None:
    key = name_key(patronymic)
    if key.endswith(("ович", "евич", "ич", "оглы", "улы")):
        return "M"
    if key.endswith(("овна", "евна", "ична", "инична", "кызы", "гызы")):
        return "F"
    return None


def normalize_sex(value: str | None) -> str | None:
    if value is None:
        return None
    key = str(value).strip().lower()
    if key in ("m", "м", "1", "муж", "мужской", "male"):
        return "M"
    if key in ("f", "ж", "2", "жен", "женский", "female"):
        return "F"
    return None


_DATE_FORMATS = ("%d/%m/%Y", "%Y%m%d", "%d.%m.%y")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_RU = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")


def parse_date(value: str | None) -> dt.date | None:
    """Parse ISO, dd.mm.yyyy and a few other forms; raise ValueError on anything else."""
    if value is None:
        return None
    return _parse_date_text(str(value).strip())


@functools.lru_cache(maxsize=1 << 16)  # dates repeat a lot in an extract; strptime is slow
def _parse_date_text(text: str) -> dt.date | None:
    if not text:
        return None
    if "T" in text or " " in text:  # timestamps: keep the date part
        text = re.split(r"[T ]", text, maxsplit=1)[0]
    try:
        if m := _ISO.fullmatch(text):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := _RU.fullmatch(text):
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        raise ValueError(f"impossible date {text!r}") from None
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"unrecognised date {text!r}")
