"""Normalisation of person identifiers: SNILS, names, sex, dates.

Small pure functions shared by the connectors (casting to staging) and the register (keys).
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

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


# The same rules in SQL, one text valid in DuckDB and in PostgreSQL (patterns anchored, so `~` means the
# same in both): the landing engine, the linkage features and the database's ref.snils_is_valid use these.
def snils_sql(text: str) -> str:
    """SQL for normalize_snils's digits (before the checksum) of a text already trimmed: Excel's '.0'
    dropped, separators dropped, lost leading zeros restored."""
    t2 = f"CASE WHEN {text} ~ '^\\d+\\.0+$' THEN split_part({text}, '.', 1) ELSE {text} END"
    digits = f"CASE WHEN {t2} ~ '^\\d{{11}}$' THEN {t2} ELSE regexp_replace({t2}, '\\D', '', 'g') END"
    return (f"CASE WHEN length({digits}) BETWEEN 7 AND 10 AND {t2} ~ '^[\\d\\s-]+$'"
            f" THEN lpad({digits}, 11, '0') ELSE {digits} END")


def snils_sum_sql(d: str) -> str:
    """The weighted digit sum of a SNILS's first nine digits (input to its control number)."""
    return " + ".join(f"substr({d}, {i}, 1)::int * {10 - i}" for i in range(1, 10))


def snils_valid_sql(d: str, total: str | None = None) -> str:
    """SQL for snils_is_valid over a text `d` (never NULL: false for NULL); `total` an expression holding
    snils_sum_sql(d) already, where a query computes it once."""
    total = total or f"({snils_sum_sql(d)})"
    check = (f"CASE WHEN {total} < 100 THEN {total} WHEN {total} IN (100, 101) THEN 0"
             f" ELSE mod(mod({total}, 101), 100) END")
    return (f"(CASE WHEN {d} IS NULL OR NOT {d} ~ '^[0-9]{{11}}$' THEN false"
            f" WHEN substr({d}, 1, 9)::bigint <= 1001998 THEN true"
            f" ELSE {check} = substr({d}, 10, 2)::int END)")


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


_INN_WEIGHTS = {10: [(2, 4, 10, 3, 5, 9, 4, 6, 8)],
                12: [(7, 2, 4, 10, 3, 5, 9, 4, 6, 8), (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)]}


def inn_is_valid(inn: str | None) -> bool:
    """An ИНН with its check digits right: 10 digits for an organisation (one check digit), 12 for an
    individual entrepreneur (two); each check digit is the weighted sum of the digits before it mod 11 mod 10."""
    if not inn or not inn.isdigit() or len(inn) not in _INN_WEIGHTS:
        return False
    digits = [int(c) for c in inn]
    for weights in _INN_WEIGHTS[len(inn)]:
        n = len(weights)
        if sum(w * d for w, d in zip(weights, digits)) % 11 % 10 != digits[n]:
            return False
    return True


def format_snils(snils: str) -> str:
    return f"{snils[0:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:11]}"


# Latin letters typed inside a Cyrillic word by mistake: mapped by shape, before case folding
# (upper-case B is В, lower-case b is not a letter anyone confuses).
_LOOKALIKE = str.maketrans("ABCEHKMOPTXYaceopxyk", "АВСЕНКМОРТХУасеорху" + "к")
# A name written wholly in Latin letters (passport transliteration, foreign systems): phonetic.
_TRANSLIT_MULTI = [("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ch", "ч"), ("sh", "ш"),
                   ("ts", "ц"), ("tz", "ц"), ("yu", "ю"), ("iu", "ю"), ("ya", "я"), ("ia", "я"),
                   ("yo", "е"), ("ye", "е"), ("iy", "ий"), ("yy", "ый"), ("ay", "ай"), ("oy", "ой"),
                   ("ey", "ей"), ("uy", "уй")]
_TRANSLIT_ONE = str.maketrans({**dict(zip("abvgdezijklmnoprstufhcywq", "абвгдезийклмнопрстуфхцывк")), "x": "кс"})
_SPACES = re.compile(r"\s+")
_NAME_JUNK = re.compile(r"[^а-я\- ]")
_HAS_CYR = re.compile(r"[А-Яа-яЁё]")
_HAS_LAT = re.compile(r"[A-Za-z]")


def clean_name(value: str | None) -> str | None:
    """A name part as stored in staging: trimmed, inner spaces collapsed, original case kept."""
    if value is None:
        return None
    text = _SPACES.sub(" ", str(value)).strip()
    return text or None


def transliterate(text: str) -> str:
    """Latin spelling of a Russian name back to Cyrillic (Ivanov → иванов, Zhukova → жукова)."""
    text = text.lower()
    if text.startswith("e"):  # Elena, Evgeniy: initial e is е, not э
        text = "е" + text[1:]
    for lat, cyr in _TRANSLIT_MULTI:
        text = text.replace(lat, cyr)
    return text.translate(_TRANSLIT_ONE)


@functools.lru_cache(maxsize=1 << 18)  # names repeat: a region has a few thousand distinct ones
def name_key(value: str | None) -> str:
    """A name part folded for comparison: lower case, ё→е, Latin look-alikes or transliteration to
    Cyrillic, hyphens tidied; an initial ("И." or "и") becomes its single letter."""
    if not value:
        return ""
    text = str(value)
    if _HAS_LAT.search(text):
        text = text.translate(_LOOKALIKE) if _HAS_CYR.search(text) else transliterate(text)
    # soft and hard signs dropped: transliteration loses them (Olga, Natalya), so keys must too
    text = text.lower().replace("ё", "е").replace("ь", "").replace("ъ", "")
    text = _NAME_JUNK.sub("", text.replace(".", " "))
    text = re.sub(r"\s*-\s*", "-", text).strip("- ")
    return _SPACES.sub(" ", text).strip()


def is_initial(key: str | None) -> bool:
    return bool(key) and len(key) == 1


def sex_from_patronymic(patronymic: str | None) -> str | None:
    key = name_key(patronymic)
    if len(key) < 4:  # an initial or a fragment says nothing
        return None
    if key.endswith(("ович", "евич", "ич", "оглы", "улы")):
        return "M"
    if key.endswith(("овна", "евна", "ична", "инична", "кызы", "гызы")):
        return "F"
    return None


# How sources write sex (folded to lower case); also the SQL twin in etl/linkage/features.py.
SEX_CODES = {"m": "M", "м": "M", "1": "M", "муж": "M", "мужской": "M", "male": "M",
             "f": "F", "ж": "F", "2": "F", "жен": "F", "женский": "F", "female": "F"}


def normalize_sex(value: str | None) -> str | None:
    if value is None:
        return None
    return SEX_CODES.get(str(value).strip().lower())


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


_PARTIAL = [  # birth dates known only in part: (pattern, groups → (year, month))
    (re.compile(r"(?:00\.){0,2}(\d{4})"), lambda m: (int(m[1]), None)),
    (re.compile(r"(?:00\.)?(\d{1,2})\.(\d{4})"), lambda m: (int(m[2]), int(m[1]))),
    (re.compile(r"(\d{4})(?:-00){1,2}"), lambda m: (int(m[1]), None)),
    (re.compile(r"(\d{4})-(\d{1,2})(?:-00)?"), lambda m: (int(m[1]), int(m[2]))),
]


@dataclass(frozen=True)
class BirthDate:
    """A birth date as far as it is known. `precision` is day, month or year; a first of January
    is flagged as a likely placeholder (registries write 01.01.YYYY when only the year is known)."""
    year: int
    month: int | None = None
    day: int | None = None

    @property
    def precision(self) -> str:
        return "day" if self.day else ("month" if self.month else "year")

    @property
    def placeholder(self) -> bool:
        return self.day == 1 and self.month == 1

    @property
    def date(self) -> dt.date | None:
        return dt.date(self.year, self.month, self.day) if self.day else None

    def iso(self) -> str:
        return "-".join([f"{self.year:04d}"] + [f"{x:02d}" for x in (self.month, self.day) if x])


@functools.lru_cache(maxsize=1 << 16)
def parse_birth_date(value: str | None) -> BirthDate | None:
    """Full dates as `parse_date`, plus partial forms: 1948, 00.00.1948, 03.1948, 1948-03, 1948-00-00."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    for pattern, parts in _PARTIAL:
        if m := pattern.fullmatch(text):
            year, month = parts(m)
            if not 1 <= (month or 1) <= 12:
                raise ValueError(f"impossible month in {text!r}")
            return BirthDate(year, month or None)
    d = parse_date(text)
    return BirthDate(d.year, d.month, d.day) if d else None


# Address words folded to one spelling; applied token by token (the same map drives the SQL twin
# of this function in etl/linkage/features.py, so both sides of a comparison agree).
ADDRESS_ABBREVIATIONS = {
    "город": "г", "гор": "г", "улица": "ул", "дом": "д", "квартира": "кв", "проспект": "пр", "просп": "пр",
    "пр-т": "пр", "переулок": "пер", "корпус": "к", "корп": "к", "строение": "стр", "область": "обл",
    "район": "р-н", "поселок": "п", "пос": "п", "пгт": "п", "село": "с", "деревня": "дер", 
    "шоссе": "ш", "бульвар": "б-р", "бул": "б-р", "площадь": "пл", "микрорайон": "мкр",
}
_ADDR_SPLIT = re.compile(r"[^a-zа-я0-9\-]+")  # Latin letters stay: addresses as the data has them


@functools.lru_cache(maxsize=1 << 16)
def address_key(value: str | None) -> str:
    """An address folded for comparison: ё→е, abbreviations (г./ул./д./кв. …) in one spelling,
    punctuation dropped: "г. Тула, улица Ленина, дом 5, кв.3" → "г тула ул ленина д 5 кв 3"."""
    if not value:
        return ""
    tokens = _ADDR_SPLIT.split(str(value).lower().replace("ё", "е"))
    return " ".join(ADDRESS_ABBREVIATIONS.get(t, t) for t in tokens if t)
