"""Scratch folders in the temporary folder (TMPDIR), named after the host and process that made them.

A process killed outright (kill -9, a lost container) runs no `finally`: its scratch files — a UTF-8 copy
of the input, DuckDB's database and spill files, an ОМС register's extracted cases, a few times the input
— would stay for good. Each new scratch folder first removes those of this host's processes that are no
longer alive. (The host is in the name: a TMPDIR shared between containers holds others' folders, whose
process ids mean nothing here.)
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:40] or "host"
_NAME = re.compile(r"^ltc-[a-z]+-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-")


def folder(kind: str) -> tempfile.TemporaryDirectory:
    """A TemporaryDirectory for `kind` (a word: land, extract, register, marts), removed on exit as usual."""
    sweep()
    return tempfile.TemporaryDirectory(prefix=f"ltc-{kind}-{_HOST}-{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def sweep(root: Path | None = None) -> list[Path]:
    """Remove the scratch folders of this host's dead processes; the folders removed."""
    root = Path(root or tempfile.gettempdir())
    gone = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return gone
    for entry in entries:
        m = _NAME.match(entry.name)
        if m and m["host"] == _HOST and entry.is_dir(follow_symlinks=False) and not _alive(int(m["pid"])):
            shutil.rmtree(entry.path, ignore_errors=True)
            gone.append(Path(entry.path))
    if gone:
        log.warning("removed %d scratch folder(s) left by processes that died: %s", len(gone),
                    ", ".join(p.name for p in gone))
    return gone
