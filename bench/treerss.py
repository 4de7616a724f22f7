"""The peak resident memory of this process and its children together (the ОМС parse workers are
programs of their own), sampled from /proc every 20 ms while a block runs: Linux only, as the benches."""
from __future__ import annotations

import os
import threading
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0  # a child that just ended


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


class TreePeak:
    """with TreePeak() as peak: …; then peak.bytes — the largest sum of the tree's RSS seen."""

    def __init__(self, every: float = 0.02):
        self.every, self.bytes, self._stop = every, 0, threading.Event()

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self.every):
            tree, total = [me], 0
            while tree:
                pid = tree.pop()
                total += _rss(pid)
                tree += _children(pid)
            self.bytes = max(self.bytes, total)

    def __enter__(self) -> "TreePeak":
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
