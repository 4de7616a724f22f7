"""Health-ministry extracts: referrals and medical events (CSV, XLSX), ОМС registers (XML, see oms.py).

Column names are matched by alias (Russian headers as the medical organisations send them, or the
English field names), so column order does not matter. Encoding (UTF-8 with or without BOM,
cp1251) and delimiter (';', ',', tab) are detected.
"""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from connectors.common import (MAX_FILE_BYTES, MAX_ROW_BYTES, FileRejected, Table, TableSpec, check_zip,
                               own_csv, read_own_csv)


ALIASES = {
    "mo_code": ["кодмо", "код мо", "mo_code", "мо"],
    "referral_id": ["номернаправления", "номер направления", "referral_id"],
    "referral_date": ["датанаправления", "дата направления", "referral_date"],
    "channel": ["каналвыявления", "канал выявления", "channel"],
    "snils": ["снилс", "snils"],
    "enp": ["енп", "enp", "полис"],
    "surname": ["фамилия", "surname", "fam"],
    "first_name": ["имя", "first_name", "im"],
    "patronymic": ["отчество", "patronymic", "ot"],
    "sex": ["пол", "sex", "w"],
    "birth_date": ["датарождения", "дата рождения", "birth_date", "dr"],
    "address": ["адрес", "address"],
    "oktmo": ["октмо", "oktmo"],
    "phone": ["телефон", "phone"],
    "icd10": ["диагнозмкб", "диагноз", "мкб", "icd10"],
    "consent": ["согласиенаразглашение", "согласие", "consent"],
    "consent_date": ["датасогласия", "дата согласия", "consent_date"],
    "event_id": ["номерслучая", "номер случая", "event_id"],
    "event_type": ["видсобытия", "вид события", "event_type"],
    "start_date": ["датаначала", "дата начала", "start_date"],
    "end_date": ["датаокончания", "дата окончания", "end_date"],
}
_ALIAS_INDEX = {alias: field for field, names in ALIASES.items() for alias in names}

CHANNELS = {
    "диспансеризация": "dispensary", "dispensary": "dispensary", "профосмотр": "dispensary",
    "прием врача": "doctor_visit", "приём врача": "doctor_visit", "doctor_visit": "doctor_visit",
    "выписка из стационара": "hospital_discharge", "hospital_discharge": "hospital_discharge",
    "мсэ": "mse", "mse": "mse", "иное": "other", "other": "other",
}
EVENT_TYPES = {
    "госпитализация": "hospitalisation", "hospitalisation": "hospitalisation",
    "дневной стационар": "day_hospital", "day_hospital": "day_hospital",
    "амбулаторное посещение": "outpatient", "outpatient": "outpatient",
    "вызов скорой помощи": "ambulance", "скорая помощь": "ambulance", "ambulance": "ambulance",
}

# Field kinds are cast by connectors.common.CASTS (dates, sex, yes/no) or inside PostgreSQL (text, names,
# SNILS: see etl/landing/tabular.py); "code:<map>" means a lookup in one of the maps above.
REFERRAL_SPEC = {
    "mo_code": ("text", True), "referral_id": ("text", True), "referral_date": ("date", True),
    "channel": ("code:channel", False), "enp": ("text", False), "sex": ("sex", False), "birth_date": ("date", False),
    "address": ("text", False), "oktmo": ("text", False), "phone": ("text", False), "icd10": ("text", False),
    "consent": ("bool", False), "consent_date": ("date", False),
}
EVENT_SPEC = {
    "mo_code": ("text", True), "event_id": ("text", True), "event_type": ("code:event_type", True),
    "start_date": ("date", True), "end_date": ("date", False), "icd10": ("text", False), "enp": ("text", False),
    "sex": ("sex", False), "birth_date": ("date", False), "oktmo": ("text", False),
}
CODE_MAPS = {"channel": (CHANNELS, "other"), "event_type": (EVENT_TYPES, None)}  # (map, default when unknown)
REFERRAL = TableSpec(
    "health_referral", REFERRAL_SPEC, CODE_MAPS,
    checks=(("referral_date > DATE '{today}'", "date_in_future", "'referral date ' || referral_date::VARCHAR"),),
    # Medical secrecy: without the citizen's written consent no diagnosis is stored, and the row says so.
    staged={"consent": "coalesce(consent, false)", "icd10": "CASE WHEN consent THEN icd10 END",
            "consent_date": "CASE WHEN consent THEN consent_date END",
            "diagnosis_withheld": "NOT coalesce(consent, false) AND icd10 IS NOT NULL"},
    secret={"icd10": "diagnosis_withheld"})
EVENT = TableSpec(
    "health_medical_event", EVENT_SPEC, CODE_MAPS,
    checks=(("end_date < start_date", "inconsistent_dates",
             "'ends ' || end_date::VARCHAR || ' before it starts ' || start_date::VARCHAR"),),
    # Medical secrecy: event extracts and ОМС registers carry no consent, so their diagnoses are kept
    # nowhere (no model needs them); the row says one was withheld.
    staged={"icd10": "NULL::VARCHAR", "diagnosis_withheld": "icd10 IS NOT NULL"},
    secret={"icd10": "diagnosis_withheld"})
SPECS = {spec.entity: spec for spec in (REFERRAL, EVENT)}
REQUIRED_COLUMNS = {
    "health_referral": {"mo_code", "referral_id", "referral_date", "surname", "first_name", "birth_date"},
    "health_medical_event": {"mo_code", "event_id", "event_type", "start_date", "surname", "first_name",
                             "birth_date"},
}
TABULAR_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")


# The ten commonest letters of Russian text make about two thirds of its letters (о е а и н т с р в л);
# the same bytes read in the wrong one-byte code page give a letter soup where they make about a third.
_COMMON_LETTERS = frozenset("оеаинтсрвл")
_MIN_COMMON_SHARE = 0.45
ONE_BYTE_ENCODINGS = ("cp1251", "koi8_r")  # the code pages Russian systems write, commonest first


def _russian_share(data: bytes, encoding: str) -> tuple[float, int] | None:
    """(share of the commonest Russian letters among the Cyrillic letters, their number) of the bytes read
    in `encoding`; None when they are not valid in it. Latin letters do not count: a long Latin field
    says nothing of the code page (it rejected a valid cp1251 file as long as only Cyrillic letters were
    counted against every letter of the first 20 000 characters)."""
    try:
        text = data.decode(encoding).lower()
    except UnicodeDecodeError:
        return None
    cyrillic = [ch for ch in text if "а" <= ch <= "я" or ch == "ё"]
    if not cyrillic:
        return 0.0, 0
    return sum(ch in _COMMON_LETTERS for ch in cyrillic) / len(cyrillic), len(cyrillic)


def _one_byte_encoding(data: bytes) -> str | None:
    """cp1251 or KOI8-R, whichever reads the bytes as Russian; None when neither does."""
    # text in a one-byte code page holds no control bytes but tab and line ends (a stray NUL aside); UTF-16
    # has one every other byte (0x04 beside each Cyrillic letter, 0x00 beside each ASCII one)
    controls = sum(data.count(b) for b in (*range(0, 9), *range(14, 32)))
    if controls * 100 > len(data):
        return None
    scored = {enc: score for enc in ONE_BYTE_ENCODINGS if (score := _russian_share(data, enc)) is not None}
    if not scored:
        return None
    best = max(scored, key=lambda enc: scored[enc][0])
    share, letters = scored[best]
    if letters == 0:
        return "cp1251"  # no letter at all outside ASCII: any reading is the same
    if letters < 20:  # too few letters to tell the code pages apart: the commoner one, if it reads
        return "cp1251" if "cp1251" in scored else best
    return best if share >= _MIN_COMMON_SHARE else None


def detect_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (";", "\t", ",")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        raise FileRejected("bad_delimiter", "header has no ';', ',' or tab separators")
    return best


def map_header(header: list[str]) -> list[str | None]:
    return [_ALIAS_INDEX.get(h.strip().lower().replace("ё", "е")) for h in header]


def open_file(path: Path, folder: Path) -> Table | None:
    """Any health extract as a table for the set-based engine: a CSV/XLSX extract, or an ОМС case file
    (with its L-file, extracted into `folder`); None for an L-file on its own (read with its case file)."""
    path = Path(path)
    if path.suffix.lower() == ".xml":
        return open_register(path, Path(folder))
    if path.suffix.lower() in TABULAR_SUFFIXES:
        return open_table(path)
    raise FileRejected("unsupported_format", f"{path.suffix or 'no extension'}: expected .csv, .xlsx or .xml")


def open_table(path: Path) -> Table:
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FileRejected("file_too_large", f"{path.stat().st_size} bytes")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        header, rows, direct = _csv_table(path)
    elif suffix in (".xlsx", ".xlsm"):
        header, rows = _xlsx_table(path)
        direct = None
    else:
        raise FileRejected("unsupported_format", f"{suffix or 'no extension'}: expected .csv, .xlsx or .xml")
    fields = map_header(header)
    known = {f for f in fields if f}
    entity = "health_medical_event" if {"event_id", "event_type"} <= known else "health_referral"
    missing = REQUIRED_COLUMNS[entity] - known
    if missing:
        raise FileRejected("missing_columns", f"{entity}: no column for {', '.join(sorted(missing))}")
    return Table(SPECS[entity], header, fields, rows, direct)


REGISTER_FIELDS = ["event_id", "mo_code", "event_type", "start_date", "end_date", "icd10", "enp", "surname",
                   "first_name", "patronymic", "sex", "birth_date", "snils"]


def open_register(path: Path, folder: Path) -> Table | None:
    """An ОМС case file (with its L-file) as a table of medical events, landed like the CSV extracts;
    None for an L-file on its own."""
    from connectors.health import oms

    ex = oms.extract(Path(path), Path(folder))
    if ex is None:
        return None

    def reader(con, cells: list[str]) -> None:
        # the payloads (the bulk of the bytes) stay in the files until they are sent to raw.record
        cases = _own_rows(ex.cases, oms.CASE_COLUMNS)
        read_own_csv(con, f"CREATE TABLE cases AS SELECT * EXCLUDE (payload) FROM {cases}")
        con.execute(f"CREATE VIEW record_payloads AS SELECT seq, locator, content_hash, payload FROM {cases}")
        read_own_csv(con, "CREATE TABLE pers_rows AS SELECT * FROM "
                                  + _own_rows(ex.persons, oms.PERSON_COLUMNS))
        usl = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in oms.USL_OK.items())
        default = "'outpatient'" if ex.dispensary else "NULL"  # a D-file's cases: dispensary visits
        no_file = "" if ex.persons else " (no L-file beside the case file)"
        con.execute(_REGISTER_LAND.format(usl=usl, default=default, no_file=no_file))

    return Table(EVENT, REGISTER_FIELDS, REGISTER_FIELDS, lambda: iter(()), reader=reader,
                 source_time=ex.made_on)


def _own_rows(files: Path | list[Path] | None, columns: list[str]) -> str:
    """The rows of CSV files the ОМС extraction wrote (seq a number, the rest text); none without files."""
    types = {c: "BIGINT" if c == "seq" else "VARCHAR" for c in columns}
    return own_csv(files, types) if files else \
        f"(SELECT {', '.join(f'NULL::{t} AS {c}' for c, t in types.items())} LIMIT 0)"


# Cases joined with their persons, in the column order of REGISTER_FIELDS; empty cells are NULL. Locators
# are worked out on narrow rows first (window functions over the XML would hold it all in memory).
_REGISTER_LAND = """
CREATE TABLE case_locator AS
WITH numbered AS (  -- a case id repeated in the file: "#2", "#3"...
    SELECT seq, CASE WHEN row_number() OVER w > 1 THEN locator || '#' || row_number() OVER w ELSE locator END AS loc1
    FROM cases WINDOW w AS (PARTITION BY locator ORDER BY seq)
)
SELECT seq, CASE WHEN count(*) OVER (PARTITION BY loc1) > 1 THEN loc1 || '@' || seq ELSE loc1 END AS locator
FROM numbered;
CREATE TABLE pers AS  -- a person listed twice: the later entry, as a reader going down the file would keep
SELECT * FROM pers_rows WHERE id_pac IS NOT NULL QUALIFY row_number() OVER (PARTITION BY id_pac ORDER BY seq DESC) = 1;
CREATE TABLE land AS
WITH typed AS (
    SELECT c.*, CASE WHEN c.usl_ok IS NULL THEN {default} ELSE CASE c.usl_ok {usl} END END AS event_type,
           l.locator AS loc, p.id_pac AS person, p.fam, p.im, p.ot,
           CASE p.w WHEN '1' THEN 'M' WHEN '2' THEN 'F' END AS sex, p.dr, p.snils
    FROM cases c JOIN case_locator l ON l.seq = c.seq LEFT JOIN pers p ON p.id_pac = c.id_pac
)
SELECT loc AS locator, seq, NULL::INTEGER AS nf, NULL::VARCHAR[] AS extra,
       event_id AS c0, coalesce(lpu, lpu_1) AS c1, event_type AS c2, date_z_1 AS c3, date_z_2 AS c4, ds1 AS c5,
       enp AS c6, fam AS c7, im AS c8, ot AS c9, sex AS c10, dr AS c11, snils AS c12,
       CASE WHEN person IS NULL THEN 'no_person_data' WHEN event_type IS NULL THEN 'unknown_code' END AS pre_reason,
       CASE WHEN person IS NULL THEN 'ID_PAC ' || coalesce(id_pac, '(none)') || ' not found in an L-file{no_file}'
            WHEN event_type IS NULL THEN 'USL_OK ' || usl_ok END AS pre_detail,
       content_hash
FROM typed;
DROP TABLE pers; DROP TABLE pers_rows;
-- raw records in one pass over the files: only the few renumbered cases are looked up
CREATE TABLE renumbered AS SELECT l.seq, l.locator FROM case_locator l JOIN cases c ON c.seq = l.seq WHERE l.locator <> c.locator;
CREATE VIEW record_stream AS
SELECT coalesce(r.locator, p.locator) AS locator, p.content_hash, p.payload
FROM record_payloads p LEFT JOIN renumbered r ON r.seq = p.seq"""


SAMPLE_BYTES = 1 << 20


def detect_encoding(sample: bytes, complete: bool) -> str:
    """'utf-8', 'cp1251' or 'koi8_r' from the first megabyte; the rest is checked while it is read."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if not complete and e.start >= len(sample) - 3:  # a character cut by the end of the sample
            return "utf-8"
    encoding = _one_byte_encoding(sample)
    if encoding:
        return encoding
    raise FileRejected("bad_encoding", "neither UTF-8 nor a Russian code page (windows-1251, KOI8-R)")


def _csv_table(path: Path):
    with open(path, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
        complete = not f.read(1)
        if not sample.strip():
            raise FileRejected("empty_file", "the file has no header")
        probe, pos = sample, len(sample)
        while probe.isascii() and not complete:  # decide on the first non-ASCII bytes, wherever they are
            f.seek(pos)
            probe = f.read(SAMPLE_BYTES)
            pos += len(probe)
            complete = not f.read(1)
    encoding = detect_encoding(probe.lstrip(bytes(range(128))) or sample, complete)
    skip = 3 if sample.startswith(b"\xef\xbb\xbf") else 0
    first_line = sample[skip:].split(b"\n", 1)[0].decode(encoding, errors="replace")
    delimiter = detect_delimiter(first_line)
    header = next(csv.reader([first_line.rstrip("\r")], delimiter=delimiter))

    def rows():
        csv.field_size_limit(MAX_ROW_BYTES)  # the same limit as DuckDB's rows (Python's default is 128 KB)
        with open(path, encoding=encoding, errors="strict", newline="") as f:
            if skip:
                f.read(1)
            reader = csv.reader(f, delimiter=delimiter)
            try:
                next(reader)
                for rowno, row in enumerate(reader, start=2):  # line 1 is the header
                    if any(cell.strip() for cell in row):
                        yield rowno, row
            except UnicodeDecodeError as e:
                raise FileRejected("bad_encoding", f"not valid {encoding}: {e.reason} at byte {e.start}") from None
            except csv.Error as e:
                if "field limit" in str(e):
                    raise FileRejected("row_too_large", f"a cell is larger than {MAX_ROW_BYTES >> 20} MB") from None
                raise FileRejected("malformed_csv", str(e)) from None
    return header, rows, {"path": path, "encoding": encoding, "delimiter": delimiter, "skip": skip}


def _xlsx_table(path: Path):
    """First worksheet, streamed (read-only mode); Excel's dates and numbers turned back into text."""
    import zipfile
    import zlib

    from xml.etree import ElementTree

    import openpyxl

    try:
        with zipfile.ZipFile(path) as z:
            check_zip(z, path.name)  # before openpyxl unpacks anything
    except zipfile.BadZipFile as e:
        raise FileRejected("bad_xlsx", f"not a readable XLSX workbook: {e}") from None

    def open_rows():
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
            raise FileRejected("bad_xlsx", f"not a readable XLSX workbook: {e}") from None
        return wb, wb.worksheets[0].iter_rows(values_only=True)

    wb, it = open_rows()
    header_row = next(it, None)
    wb.close()
    if not header_row or not any(v is not None and str(v).strip() for v in header_row):
        raise FileRejected("empty_file", "the first worksheet has no header")
    header = [_cell_text(v) for v in header_row]
    while header and not header[-1]:
        header.pop()

    def rows():
        wb, it = open_rows()
        try:
            next(it, None)
            for rowno, row in enumerate(it, start=2):
                cells = [_cell_text(v) for v in row]
                while len(cells) > len(header) and not cells[-1]:
                    cells.pop()  # Excel's formatted but empty cells right of the table
                if any(c.strip() for c in cells):
                    yield rowno, cells
        except (zipfile.BadZipFile, zlib.error, ElementTree.ParseError, EOFError) as e:
            # a member cut short of what it held (a size that lied, a damaged archive): the whole file
            raise FileRejected("bad_xlsx", f"the worksheet cannot be read to its end: {type(e).__name__}") from None
        finally:
            wb.close()
    return header, rows


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
