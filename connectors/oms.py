"""Compulsory-medical-insurance (ОМС) registers, federal format 3.x: cases → medical events of persons.

An H/C/D/T-file (ZL_LIST: ZAP → PACIENT, Z_SL → SL) carries the cases; its L-file (PERS_LIST: PERS)
carries the persons, joined on ID_PAC. The L-file is found beside the case file by its
ZGLV/FILENAME1 (the case file's name) or by the naming convention (L + the rest of the name).
Both are read with a streaming parser (elements cleared as they are used), windows-1251 as declared.

A case whose person is not in an L-file is kept in quarantine (`no_person_data`), with its ENP.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from connectors.common import FileRejected

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


# Columns of the extracted case rows and person rows (plain UTF-8 CSV, one row per Z_SL / PERS).
CASE_COLUMNS = ["seq", "locator", "id_pac", "enp", "event_id", "usl_ok", "lpu", "lpu_1", "date_z_1", "date_z_2",
                "ds1", "payload"]
PERSON_COLUMNS = ["seq", "id_pac", "fam", "im", "ot", "w", "dr", "snils"]


@dataclass
class Extract:
    """An ОМС case file flattened for set-based landing (etl/tabular.py casts and checks the rows)."""
    cases: Path
    persons: Path | None       # None: no L-file beside the case file
    dispensary: bool           # a D-file: cases without USL_OK are primary-care visits
    n_cases: int


def _texts(el, wanted: frozenset) -> dict[str, str]:
    """Stripped text of the first non-empty direct child of each wanted local name (any namespace);
    the first child element named SL under "SL". One pass over the children: the fast way in lxml."""
    out: dict = {}
    for c in el:
        tag = c.tag
        if not isinstance(tag, str):
            continue  # comments, processing instructions
        if tag[0] == "{":
            tag = tag.rpartition("}")[2]
        if tag in wanted and tag not in out:
            if tag == "SL":
                out[tag] = c
            elif (text := c.text) and (text := text.strip()):
                out[tag] = text
    return out


_PACIENT = frozenset({"ID_PAC", "ENP"})
_Z_SL = frozenset({"IDCASE", "USL_OK", "LPU", "DATE_Z_1", "DATE_Z_2", "SL"})
_SL = frozenset({"LPU_1", "DS1"})
_PERS = ("ID_PAC", "FAM", "IM", "OT", "W", "DR", "SNILS")
_PERS_SET = frozenset(_PERS)


def extract(path: Path, folder: Path) -> Extract | None:
    """Stream the case file (and its L-file) into CSV files in `folder`; None for an L-file on its own
    (its persons are read with their case file). Memory stays flat whatever the size."""
    path = Path(path)
    root, zglv = header(path)
    if root == PERSON_ROOT:
        return None
    if root != CASE_ROOT:
        raise FileRejected("unknown_format", f"root element {root!r}: expected ZL_LIST or PERS_LIST")
    version = (zglv.get("VERSION") or "").strip()
    if version and not version.startswith("3."):
        # e.g. a territorial fund's own 1.x layout (SCHET/SLUCH): not the federal ZAP/Z_SL structure
        raise FileRejected("unsupported_version", f"ZL_LIST version {version}: the federal format 3.x is expected")
    person_file = find_person_file(path, zglv.get("FILENAME"))
    persons = None
    if person_file:
        persons = folder / "persons.csv"
        with open(persons, "w", encoding="utf-8", newline="") as f:
            out = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
            for seq, pers in enumerate(_iter(person_file, "PERS")):
                fields = _texts(pers, _PERS_SET)
                out.writerow((seq, *(fields.get(n, "") for n in _PERS)))
    prefix = zglv.get("FILENAME") or path.stem
    cases, n = folder / "cases.csv", 0
    with open(cases, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for zap in _iter(path, "ZAP"):
            id_pac = enp = n_zap = None
            z_sls = []
            for c in zap:
                name = c.tag.rpartition("}")[2] if isinstance(c.tag, str) else ""
                if name == "PACIENT":
                    pac = _texts(c, _PACIENT)
                    id_pac, enp = pac.get("ID_PAC"), pac.get("ENP")
                elif name == "N_ZAP":
                    n_zap = (c.text or "").strip()
                elif name == "Z_SL":
                    z_sls.append(c)
            for z_sl in z_sls:
                case = _texts(z_sl, _Z_SL)
                sl = _texts(case["SL"], _SL) if "SL" in case else {}
                event_id = case.get("IDCASE") or f"ZAP{n_zap or ''}"
                out.writerow((n, f"{prefix}/{event_id}", id_pac, enp, event_id, case.get("USL_OK"), case.get("LPU"),
                              sl.get("LPU_1"), case.get("DATE_Z_1"), case.get("DATE_Z_2"), sl.get("DS1"),
                              etree.tostring(z_sl, encoding="unicode")))
                n += 1
    return Extract(cases, persons, path.stem[:1].upper() == "D", n)
