"""What the rest of the project knows of a source system, as data (connectors.SOURCES)."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Entity:
    """A staging table a source fills."""
    name: str
    natural_key: str | None    # SQL over its staging row naming the record across versions; None: no current view
    deletable: bool = False    # the source withdraws keys (its deletions end a key's current version)
    note: str = ""


@dataclass(frozen=True)
class Source:
    name: str                  # health | smev | optima: the landing folder, the batch's source, the DAG's name
    title: str                 # for the people who read it (DAG descriptions, summaries)
    kind: str                  # "tables": opened whole for the set-based engine (open_file(path, folder));
                               # "records": parse(path) yields SourceRecords, landed a chunk at a time
    tables: tuple[Entity, ...]  # the staging tables it fills, with their natural keys
    suffixes: tuple[str, ...]  # the file types its landing folder is searched for
    schedule: str              # cron of its ingest DAG
    reader: str                # the module with open_file / parse (and source_time(path), if it has one)
    order: int = 100           # where it stands in lists and summaries

    def module(self) -> ModuleType:
        """The reading module, imported when first needed (the DAG files never need it)."""
        return importlib.import_module(self.reader)

    @property
    def entities(self) -> tuple[str, ...]:
        """The names of the staging tables it fills."""
        return tuple(e.name for e in self.tables)
