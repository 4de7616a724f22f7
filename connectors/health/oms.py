"""Compulsory-medical-insurance (ОМС) registers, federal format 3.x: cases → medical events of persons.

An H/C/D/T-file (ZL_LIST: ZAP → PACIENT, Z_SL → SL) carries the cases; its L-file (PERS_LIST: PERS)
carries the persons, joined on ID_PAC. The L-file is found beside the case file by its
ZGLV/FILENAME1 (the case file's name) or by the naming convention (L + the rest of the name).
Both are read with a streaming parser (elements cleared as they are used), windows-1251 as declared.

A case whose person is not in an L-file is kept in quarantine (`no_person_data`), with its ENP.
"""
from __future__ import annotations

import csv
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from hashlib import sha256
from html import escape
from pathlib import Path

from lxml import etree

from connectors.common import FileRejected
from etl.base import settings

log = logging.getLogger(__name__)

# V006 «условия оказания медицинской помощи» → our event types; D-files (диспансеризация) have no USL_OK.
USL_OK = {"1": "hospitalisation", "2": "day_hospital", "3": "outpatient", "4": "ambulance"}
CASE_ROOT, PERSON_ROOT = "ZL_LIST", "PERS_LIST"


def _iter(source, tag: str):
    """Stream the elements named `tag` of a file (a path, or a _Part); free each after use (flat memory on
    large registers)."""
    safe = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}
    try:
        if isinstance(source, _Part):
            context = _feed(source, tag, safe)
        else:
            context = etree.iterparse(str(source), events=("end",), tag=tag, **safe)
        for _, el in context:
            yield el
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
    except etree.XMLSyntaxError as e:
        raise FileRejected("malformed_xml", str(e)) from None


def _feed(part: "_Part", tag: str, safe: dict):
    """iterparse over a _Part: its blocks fed to a pull parser."""
    parser = etree.XMLPullParser(events=("end",), tag=tag, **safe)
    for block in part:
        parser.feed(block)
        yield from parser.read_events()
    parser.close()
    yield from parser.read_events()


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
                "ds1", "content_hash", "payload"]
PERSON_COLUMNS = ["seq", "id_pac", "fam", "im", "ot", "w", "dr", "snils"]


@dataclass
class Extract:
    """An ОМС case file flattened for set-based landing (etl/landing/tabular.py casts and checks the rows)."""
    cases: list[Path]          # one file per part the case file was parsed in
    persons: Path | None       # None: no L-file beside the case file
    dispensary: bool           # a D-file: cases without USL_OK are primary-care visits
    n_cases: int
    made_on: str | None = None  # ZGLV/DATA: the day the register was made (a resubmission is a later one)


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
            if len(out) == len(wanted):
                break
    return out


_PACIENT = frozenset({"ID_PAC", "ENP"})
_Z_SL = frozenset({"IDCASE", "USL_OK", "LPU", "DATE_Z_1", "DATE_Z_2", "SL"})
_SL = frozenset({"LPU_1", "DS1"})
_PERS = ("ID_PAC", "FAM", "IM", "OT", "W", "DR", "SNILS")
_PERS_SET = frozenset(_PERS)


def extract(path: Path, folder: Path) -> Extract | None:
    """Stream the case file (and its L-file) into CSV files in `folder`; None for an L-file on its own
    (its persons are read with their case file). Memory stays flat whatever the size.

    A large case file is parsed in parts by worker processes while this one reads the L-file (see
    _split); a part that does not parse on its own makes the whole file go the one-pass way."""
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
    prefix = zglv.get("FILENAME") or path.stem
    parts = _split(path, WORKERS) if path.stat().st_size >= PARALLEL_MIN_BYTES else None
    workers = []
    try:
        # Worker processes started as programs of their own (not multiprocessing: a daemonic process, as
        # in a Celery pool, may not have those children); each writes its part's CSV file.
        try:
            for i, part in enumerate(parts or []):
                workers.append(_start_part(path, part, folder / f"cases{i}.csv", i << 40, prefix))
        except OSError as e:  # e.g. no process slots left, or a FILENAME too long for a command line
            log.warning("%s: parse workers not started (%s); reading the file in one pass", path.name, e)
            for w in workers:
                w.kill()
                w.wait()
            workers = []
        persons = None
        if person_file:
            persons = folder / "persons.csv"
            with open(persons, "w", encoding="utf-8", newline="") as f:
                out = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
                for seq, pers in enumerate(_iter(person_file, "PERS")):
                    fields = _texts(pers, _PERS_SET)
                    out.writerow((seq, *(fields.get(n, "") for n in _PERS)))
        if workers:
            counts = [_finish_part(w) for w in workers]
            if all(isinstance(c, int) for c in counts):
                return Extract([folder / f"cases{i}.csv" for i in range(len(workers))], persons,
                               path.stem[:1].upper() == "D", sum(counts), zglv.get("DATA"))
            log.info("%s: a part was not parsed (%s); reading the file in one pass", path.name,
                     next(c for c in counts if not isinstance(c, int)))
        n = _write_cases(path, folder / "cases.csv", 0, prefix)
        return Extract([folder / "cases.csv"], persons, path.stem[:1].upper() == "D", n, zglv.get("DATA"))
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()


def _start_part(path: Path, part: tuple[int, int, bytes, bytes], out: Path, seq_base: int,
                prefix: str) -> subprocess.Popen:
    start, end, head, tail = part
    root = str(Path(__file__).resolve().parents[2])  # the folder holding connectors/, whatever the installation
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
           _PARENT: str(os.getpid())}
    return subprocess.Popen([sys.executable, "-m", "connectors.health.oms", str(path), str(start), str(end), head.hex(),
                             tail.hex(), str(out), str(seq_base), prefix],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _finish_part(worker: subprocess.Popen) -> int | str:
    """The number of cases a worker wrote, or why it did not."""
    stdout, stderr = worker.communicate()
    if worker.returncode == 0:
        return int(stdout)
    lines = (stdout or stderr).decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {worker.returncode}"


def _write_cases(source, out_path: Path, seq_base: int, prefix: str) -> int:
    """The cases (Z_SL) of `source` (a path or a _Part) as CSV rows of CASE_COLUMNS; their number.
    seq = seq_base + the case's number in the source: file order across parts."""
    n = 0
    with open(out_path, "wb") as f:
        for zap in _iter(source, "ZAP"):
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
                payload = etree.tostring(z_sl, encoding="utf-8", xml_declaration=False)  # the case as read
                digest = sha256(payload).hexdigest().encode()  # of the case as read: a repeat is still found
                if _drop_diagnoses(z_sl):
                    payload = etree.tostring(z_sl, encoding="utf-8", xml_declaration=False)
                fields = (f"{prefix}/{event_id}", id_pac, enp, event_id, case.get("USL_OK"), case.get("LPU"),
                          sl.get("LPU_1"), case.get("DATE_Z_1"), case.get("DATE_Z_2"), sl.get("DS1"))
                # CSV by hand (csv.writer took a quarter of the time, quoting the payloads)
                f.write(b",".join((b'"%d"' % (seq_base + n), *(_quoted(v) for v in fields),
                                   b'"%s"' % digest,
                                   b'"' + payload.replace(b'"', b'""') + b'"\n')))
                n += 1
    return n


# Medical secrecy: an ОМС register carries no consent, so the case kept in raw loses its diagnoses —
# every DS* element (DS, DS0, DS1, DS2, DS3, DS1_PR, DS_ONK …) and the oncology blocks that restate them.
_DIAGNOSIS_BLOCKS = frozenset({"ONK_SL", "ONK_USL", "B_DIAG", "B_PROT", "NAPR_DS"})


def _drop_diagnoses(el) -> bool:
    """Remove the diagnosis elements under el (in place); whether any were found."""
    doomed = []
    for x in el.iter():
        if not isinstance(x.tag, str):
            continue
        name = x.tag.rpartition("}")[2]
        if name.startswith("DS") or name in _DIAGNOSIS_BLOCKS:
            doomed.append(x)
    for x in doomed:
        parent = x.getparent()
        if parent is not None:
            parent.remove(x)
    return bool(doomed)


def _quoted(value: str | None) -> bytes:
    return b'""' if value is None else b'"' + value.replace('"', '""').encode() + b'"'


_PARENT = "LTC_PARSE_PARENT"


def _die_with_parent() -> None:
    """A worker whose landing process is killed outright dies with it (Linux: the parent-death signal),
    not parsing on for nobody into a scratch folder that is then swept away."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        return  # not Linux: the worker ends when its part is done
    if os.environ.get(_PARENT) and os.getppid() != int(os.environ[_PARENT]):
        os._exit(9)  # the parent died before the signal was asked for


def _part_main(argv: list[str]) -> int:
    """A worker: parse one part of a case file (arguments from _start_part); print the number of cases, or
    the reason the part did not parse (exit status 3)."""
    path, start, end, head, tail, out, seq_base, prefix = argv
    _die_with_parent()
    try:
        n = _write_cases(_Part(Path(path), int(start), int(end), bytes.fromhex(head), bytes.fromhex(tail)),
                         Path(out), int(seq_base), prefix)
    except FileRejected as e:
        print(e)
        return 3
    print(n)
    return 0


# ---- parsing a large case file in parts -------------------------------------------------------------
PARALLEL_MIN_BYTES = 32 << 20
# LTC_PARSE_WORKERS=1: every file in one pass, in the loading process
WORKERS = settings.current().parse_workers or max(2, os.cpu_count() or 2)
_DECLARATION = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?ZAP\s*>")


def _split(path: Path, n: int) -> list[tuple[int, int, bytes, bytes]] | None:
    """(start, end, head, tail) of up to n parts of the case file, each cut after a ZAP's end tag and
    wrapped to stand alone: a part after the first gets the XML declaration and a root start tag with the
    root's namespace declarations, a part before the last gets the root's end tag. None when the file
    cannot be cut so (not an ASCII-compatible encoding, no ZAP end tags).

    The cut points are found by bytes, so one may fall inside a comment, CDATA or a nested ZAP; the part
    before it then does not parse (an unclosed construct or element), and the file is read in one pass.
    A part that parses was cut where only the root was open, so it yields the ZAPs one pass would."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        first = f.read(4096)
        if not first.lstrip().startswith(b"<"):  # a BOM or UTF-16: not cut by bytes
            return None
        m = _DECLARATION.match(first.lstrip())
        encoding = m.group(1).decode() if m else "UTF-8"
        try:
            if "a" != b"a".decode(encoding) or "<" != b"<".decode(encoding):
                return None
        except (LookupError, UnicodeDecodeError):
            return None
        cuts = [0]
        for k in range(1, n):
            f.seek(max(cuts[-1], size * k // n))
            window = f.read(1 << 20)
            hit = _END.search(window)
            if not hit:
                break
            cuts.append(f.tell() - len(window) + hit.end())
    if len(cuts) < 2:
        return None
    qname, nsmap = _root_tag(path)
    declarations = "".join(f' xmlns{":" + p if p else ""}="{escape(uri, quote=True)}"' for p, uri in nsmap.items())
    head = f'<?xml version="1.0" encoding="{encoding}"?><{qname}{declarations}>'.encode(encoding)
    tail = f"</{qname}>".encode(encoding)
    bounds = cuts + [size]
    return [(bounds[i], bounds[i + 1], head if i else b"", tail if i < len(cuts) - 1 else b"")
            for i in range(len(cuts))]


def _root_tag(path: Path) -> tuple[str, dict]:
    for _, el in etree.iterparse(str(path), events=("start",), resolve_entities=False, no_network=True,
                                 load_dtd=False):
        local = etree.QName(el).localname
        return (f"{el.prefix}:{local}" if el.prefix else local), dict(el.nsmap)
    raise FileRejected("malformed_xml", "no root element")


class _Part:
    """A byte range of a file between a head and a tail, read as one file (by lxml's parser)."""

    def __init__(self, path: Path, start: int, end: int, head: bytes, tail: bytes):
        self.path, self.start, self.end, self.head, self.tail = path, start, end, head, tail

    def __iter__(self):
        yield self.head
        with open(self.path, "rb") as f:
            f.seek(self.start)
            left = self.end - self.start
            while left > 0:
                block = f.read(min(left, 1 << 20))
                if not block:
                    break
                left -= len(block)
                yield block
        yield self.tail


if __name__ == "__main__":
    sys.exit(_part_main(sys.argv[1:]))
