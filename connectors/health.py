"""Health-ministry extracts: referrals and medical events (CSV, XLSX), ОМС registers (XML, see oms.py).

Column names are matched by alias (Russian headers as the medical organisations send them, or the
English field names), so column order does not matter. Encoding (UTF-8 with or without BOM,
cp1251) and delimiter (';', ',', tab) are detected.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Iterator

from connectors.common import (MAX_FILE_BYTES, CastError, FileRejected, SourceRecord, cast_fields, cast_person,
                               row_payload)

SOURCE = "health"

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

REFERRAL_SPEC = {
    "mo_code": ("text", True), "referral_id": ("text", True), "referral_date": ("date", True),
    "channel": ("text", False), "enp": ("text", False), "sex": ("sex", False), "birth_date": ("date", False),
    "address": ("text", False), "oktmo": ("text", False), "phone": ("text", False), "icd10": ("text", False),
    "consent": ("bool", False), "consent_date": ("date", False),
}
EVENT_SPEC = {
    "mo_code": ("text", True), "event_id": ("text", True), "event_type": ("text", True),
    "start_date": ("date", True), "end_date": ("date", False), "icd10": ("text", False), "enp": ("text", False),
    "sex": ("sex", False), "birth_date": ("date", False), "oktmo": ("text", False),
}
REQUIRED_COLUMNS = {
    "health_referral": {"mo_code", "referral_id", "referral_date", "surname", "first_name", "birth_date"},
    "health_medical_event": {"mo_code", "event_id", "event_type", "start_date", "surname", "first_name",
                             "birth_date"},
}


def decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1251", errors="strict") if _is_cp1251(data) else None
    if text is None:
        raise FileRejected("bad_encoding", "neither UTF-8 nor windows-1251")
    return text


def _is_cp1251(data: bytes) -> bool:
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:
        return False
    letters = sum(ch.isalpha() for ch in text[:20000])
    cyr = sum("а" <= ch.lower() <= "я" or ch in "ёЁ" for ch in text[:20000])
    return letters == 0 or cyr / letters > 0.3


def detect_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (";", "\t", ",")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        raise FileRejected("bad_delimiter", "header has no ';', ',' or tab separators")
    return best


def map_header(header: list[str]) -> list[str | None]:
    return [_ALIAS_INDEX.get(h.strip().lower().replace("ё", "е")) for h in header]


def parse(path: Path) -> Iterator[SourceRecord]:
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FileRejected("file_too_large", f"{path.stat().st_size} bytes")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        header, rows = _csv_rows(path)
    elif suffix in (".xlsx", ".xlsm"):
        header, rows = _xlsx_rows(path)
    elif suffix == ".xml":  # ОМС registers (federal format 3.x)
        from connectors import oms

        yield from oms.parse(path)
        return
    else:
        raise FileRejected("unsupported_format", f"{suffix or 'no extension'}: expected .csv, .xlsx or .xml")
    yield from _records(header, rows)


def _csv_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    text = decode(path.read_bytes())
    if not text.strip():
        raise FileRejected("empty_file", "the file has no header")
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=detect_delimiter(first_line))
    header = next(reader)
    return header, enumerate(reader, start=2)  # line 1 is the header


def _xlsx_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """First worksheet, streamed (read-only mode); Excel's dates and numbers turned back into text."""
    import zipfile

    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise FileRejected("bad_xlsx", f"not a readable XLSX workbook: {e}") from None
    rows = wb.worksheets[0].iter_rows(values_only=True)
    header_row = next(rows, None)
    if not header_row or not any(header_row):
        wb.close()
        raise FileRejected("empty_file", "the first worksheet has no header")
    header = [_cell_text(v) for v in header_row]
    while header and not header[-1]:
        header.pop()

    def body():
        try:
            for rowno, row in enumerate(rows, start=2):
                cells = [_cell_text(v) for v in row[:len(header)]]
                cells += [""] * (len(header) - len(cells))
                yield rowno, cells
        finally:
            wb.close()
    return header, body()


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


def _records(header: list[str], rows) -> Iterator[SourceRecord]:
    fields = map_header(header)
    known = {f for f in fields if f}
    entity = "health_medical_event" if {"event_id", "event_type"} <= known else "health_referral"
    missing = REQUIRED_COLUMNS[entity] - known
    if missing:
        raise FileRejected("missing_columns", f"{entity}: no column for {', '.join(sorted(missing))}")
    today = dt.date.today()
    for rowno, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        raw = {h: v for h, v in zip(header, row)}
        rec = SourceRecord(entity=entity, locator=str(rowno), payload=row_payload(raw))
        if len(row) != len(header):
            rec.reason, rec.detail = "malformed_row", f"{len(row)} fields, header has {len(header)}"
            yield rec
            continue
        mapped = {f: v for f, v in zip(fields, row) if f}
        try:
            rec.values = cast_referral(mapped, today) if entity == "health_referral" else cast_event(mapped, today)
        except CastError as e:
            rec.reason, rec.detail = e.reason, e.detail
        yield rec


def cast_referral(raw: dict, today: dt.date) -> dict:
    out = cast_fields(raw, REFERRAL_SPEC)
    out["channel"] = CHANNELS.get((out["channel"] or "").lower(), "other")
    cast_person(raw, out, today)
    if out["referral_date"] > today:
        raise CastError("date_in_future", f"referral date {out['referral_date']}")
    # Medical secrecy: without the citizen's written consent no diagnosis is stored.
    out["diagnosis_withheld"] = not out["consent"] and out["icd10"] is not None
    if not out["consent"]:
        out["icd10"] = None
        out["consent_date"] = None
    return out


def cast_event(raw: dict, today: dt.date) -> dict:
    out = cast_fields(raw, EVENT_SPEC)
    kind = EVENT_TYPES.get(out["event_type"].lower())
    if kind is None:
        raise CastError("unknown_code", f"event type {out['event_type']!r}")
    out["event_type"] = kind
    cast_person(raw, out, today)
    if out["end_date"] and out["end_date"] < out["start_date"]:
        raise CastError("inconsistent_dates", f"ends {out['end_date']} before it starts {out['start_date']}")
    return out
