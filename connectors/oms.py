"""Compulsory-medical-insurance (ОМС) registers, federal format 3.x: cases → medical events of persons.

An H/C/D/T-file (ZL_LIST: ZAP → PACIENT, Z_SL → SL) carries the cases; its L-file (PERS_LIST: PERS)
carries the persons, joined on ID_PAC. The L-file is found beside the case file by its
ZGLV/FILENAME1 (the case file's name) or by the naming convention (L + the rest of the name).
Both are read with a streaming parser (elements cleared as they are used), windows-1251 as declared.

A case whose person is not in an L-file is kept in quarantine (`no_person_data`), with its ENP.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator

from lxml import etree

from connectors.common import CastError, FileRejected, SourceRecord, as_date, cast_person, child_texts, text_of

# V006 «условия оказания медицинской помощи» → our event types; D-files (диспансеризация) have no USL_OK.
USL_OK = {"1": "hospitalisation", "2": "day_hospital", "3": "outpatient", "4": "ambulance"}
CASE_ROOT, PERSON_ROOT = "ZL_LIST", "PERS_LIST"


def _iter(path: Path, tag: str):
    """Stream the direct children named `tag`; free each after use (flat memory on large registers)."""
    context = etree.iterparse(str(path), events=("end",), tag=tag, resolve_entities=False, no_network=True,
                              load_dtd=False, huge_tree=False)
    try:
        for _, el in context:
            yield el
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
    except etree.XMLSyntaxError as e:
        raise FileRejected("malformed_xml", str(e)) from None


def header(path: Path) -> tuple[str | None, dict]:
    """Root element name and ZGLV fields, reading only the beginning of the file."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise FileRejected("dtd_forbidden", "document type declarations and entities are not accepted")
    root, zglv = None, {}
    try:
        for event, el in etree.iterparse(str(path), events=("start", "end"), resolve_entities=False,
                                         no_network=True, load_dtd=False):
            if event == "start" and root is None:
                root = el.tag
            if event == "end" and el.tag == "ZGLV":
                zglv = {c.tag: (c.text or "").strip() for c in el}
                break
    except etree.XMLSyntaxError as e:
        raise FileRejected("malformed_xml", str(e)) from None
    return root, zglv


def find_person_file(path: Path, filename: str | None) -> Path | None:
    candidates = sorted(p for p in path.parent.iterdir() if p.is_file() and p.suffix.lower() == ".xml"
                        and p.name[:1].upper() == "L" and p != path)
    conventional = "L" + path.stem[1:].lstrip("O") if path.stem[:1].upper() == "D" else "L" + path.stem[1:]
    for p in candidates:
        if p.stem.upper() == conventional.upper():
            return p
    for p in candidates:
        try:
            root, zglv = header(p)
        except FileRejected:
            continue
        if root == PERSON_ROOT and filename and zglv.get("FILENAME1") == filename:
            return p
    return None


def load_persons(path: Path) -> dict[str, dict]:
    persons = {}
    for pers in _iter(path, "PERS"):
        f = child_texts(pers)
        if pid := f.get("ID_PAC"):
            persons[pid] = {"surname": f.get("FAM"), "first_name": f.get("IM"), "patronymic": f.get("OT"),
                            "sex": {"1": "M", "2": "F"}.get(f.get("W", "")), "birth_date": f.get("DR"),
                            "snils": f.get("SNILS")}
    return persons


def parse(path: Path) -> Iterator[SourceRecord]:
    path = Path(path)
    root, zglv = header(path)
    if root == PERSON_ROOT:
        return  # persons are read together with their case file
    if root != CASE_ROOT:
        raise FileRejected("unknown_format", f"root element {root!r}: expected ZL_LIST or PERS_LIST")
    person_file = find_person_file(path, zglv.get("FILENAME"))
    persons = load_persons(person_file) if person_file else {}
    today = dt.date.today()
    version = (zglv.get("VERSION") or "").strip()
    if version and not version.startswith("3."):
        # e.g. a territorial fund's own 1.x layout (SCHET/SLUCH): not the federal ZAP/Z_SL structure
        raise FileRejected("unsupported_version", f"ZL_LIST version {version}: the federal format 3.x is expected")
    for zap in _iter(path, "ZAP"):
        pacient = next((c for c in zap if c.tag == "PACIENT"), None)
        pac = child_texts(pacient) if pacient is not None else {}
        id_pac, enp = pac.get("ID_PAC"), pac.get("ENP")
        for z_sl in (c for c in zap if c.tag == "Z_SL"):
            case = child_texts(z_sl)
            case_id = case.get("IDCASE") or f"ZAP{text_of(zap, 'N_ZAP')}"
            rec = SourceRecord("health_medical_event", f"{zglv.get('FILENAME', path.stem)}/{case_id}",
                               etree.tostring(z_sl, encoding="unicode"))
            try:
                person = persons.get(id_pac or "")
                if person is None:
                    raise CastError("no_person_data", f"ID_PAC {id_pac} not found in an L-file"
                                    + ("" if person_file else " (no L-file beside the case file)"))
                usl_ok = case.get("USL_OK")
                kind = USL_OK.get(usl_ok or "")
                if kind is None and usl_ok is None and path.stem[:1].upper() == "D":
                    kind = "outpatient"  # dispensary check: a primary-care visit
                if kind is None:
                    raise CastError("unknown_code", f"USL_OK {usl_ok!r}")
                first_sl = next((c for c in z_sl if c.tag == "SL"), None)
                sl = child_texts(first_sl) if first_sl is not None else {}
                out = {"event_id": case_id, "mo_code": case.get("LPU") or sl.get("LPU_1"),
                       "event_type": kind, "start_date": _date(case.get("DATE_Z_1")),
                       "end_date": _date(case.get("DATE_Z_2")), "icd10": sl.get("DS1"),
                       "enp": enp, "sex": person["sex"], "birth_date": _date(person["birth_date"])}
                if out["start_date"] is None or out["mo_code"] is None:
                    raise CastError("missing_required", "DATE_Z_1 and LPU are required")
                rec.values = cast_person(person, out, today)
            except CastError as e:
                rec.reason, rec.detail = e.reason, e.detail
            yield rec


def _date(text):
    try:
        return as_date(text)
    except ValueError as e:
        raise CastError("bad_date", str(e)) from None
