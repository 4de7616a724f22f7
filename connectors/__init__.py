"""Source connectors: one sub-package per source system, each fetching and parsing its files into
typed records or tables. SOURCES is the one list of them: the loader, the CLI, the ingest DAGs and
their Assets, `ltcreg run` and the demo read it. A sub-package's __init__ declares its SOURCE and
imports nothing heavy (the DAG files read this list)."""
from __future__ import annotations

import importlib
import pkgutil

from connectors.source import Source


def _discover() -> tuple[Source, ...]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.ispkg:
            source = getattr(importlib.import_module(f"{__name__}.{info.name}"), "SOURCE", None)
            if isinstance(source, Source):
                found.append(source)
    return tuple(sorted(found, key=lambda s: (s.order, s.name)))


SOURCES = _discover()
BY_NAME = {s.name: s for s in SOURCES}


def source(name: str) -> Source:
    if name not in BY_NAME:
        raise ValueError(f"unknown source {name!r}; expected one of {', '.join(BY_NAME)}")
    return BY_NAME[name]


__all__ = ["BY_NAME", "SOURCES", "Source", "source"]
