"""The catalogue of SQL models, found on disk: every `sql/<layer>/<name>.sql` is a bare SELECT and the
`<name>.yml` beside it says what it is (description, grain, materialisation, engine); the current layer
is generated, one view per row of sql/current/natural_keys.csv. The order in which models are created
comes from the references between them — no list is kept by hand.

Layers: current and intermediate are views in schema `register` (some computed once per DuckDB build as
tables: `materialized: table`); marts and worklists are built in schema `build`, checked and published
to `marts` and `worklist`.
"""
from __future__ import annotations

import functools
import graphlib
import heapq
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

import connectors

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
LAYERS = {"current": "register", "intermediate": "register", "marts": "marts", "worklists": "worklist"}
_REFERENCE = re.compile(r"\b(register|build)\.([a-z_][a-z0-9_]*)\b")
_KEYS = {"name", "title", "description", "grain", "materialized", "engine", "engine_reason", "contains_identities"}


class CatalogError(ValueError):
    """A model's SQL or metadata is missing, malformed or refers in a circle."""


@dataclass(frozen=True)
class Model:
    name: str
    layer: str                      # current | intermediate | marts | worklists
    select: str                     # the bare SELECT
    description: str
    grain: str
    materialized: str = "view"      # view | table (register models: computed once per DuckDB build)
    engine: str | None = None       # "postgres": PostgreSQL computes it in either engine
    contains_identities: bool = False
    title: str | None = None        # what the people who read it call it (screens, the report)

    @property
    def schema(self) -> str:
        """Where the model lives once published (register models: where they are views)."""
        return LAYERS[self.layer]

    @property
    def is_register_model(self) -> bool:
        return self.layer in ("current", "intermediate")

    @property
    def refs(self) -> frozenset[str]:
        """The models this one reads (register.<model>, or a mart of the same build: build.<mart>)."""
        return frozenset(n for _s, n in _REFERENCE.findall(self.select))

    def view_sql(self) -> str:
        return f"CREATE VIEW register.{self.name} AS\n{self.select}"

    def table_sql(self) -> str:
        return f"CREATE TABLE register.{self.name} AS\n{self.select}"


@functools.cache
def natural_keys() -> tuple[dict, ...]:
    """Each source entity with a natural key (connectors.SOURCES: a SQL expression over its staging row)
    and whether its source can delete keys: one current view each."""
    return tuple({"entity": e.name, "natural_key": e.natural_key, "deletable": e.deletable, "note": e.note}
                 for s in connectors.SOURCES for e in s.tables if e.natural_key)


def _current_models() -> list[Model]:
    template = (SQL_DIR / "current" / "current.sql").read_text(encoding="utf-8")
    deleted = (SQL_DIR / "current" / "deleted.sql").read_text(encoding="utf-8").rstrip("\n")
    meta = yaml.safe_load((SQL_DIR / "current" / "current.yml").read_text(encoding="utf-8"))
    tables = set(meta.get("materialized_tables") or ())
    unknown = tables - {row["entity"] for row in natural_keys()}
    if unknown:
        raise CatalogError(f"current.yml: materialized_tables names no source entity: {', '.join(sorted(unknown))}")
    out = []
    for row in natural_keys():
        fill = {"entity": row["entity"], "natural_key": row["natural_key"]}
        sql = template.format(**fill, deleted=deleted.format(**fill) if row["deletable"] else "")
        out.append(Model(f"cur_{row['entity']}", "current", sql,
                         f"The current version of each staging.{row['entity']} record" +
                         (f" ({row['note']})." if row["note"] else "."),
                         f"natural key ({row['natural_key']})", "table" if row["entity"] in tables else "view"))
    return out


def _read(path: Path, layer: str) -> Model:
    meta_path = path.with_suffix(".yml")
    if not meta_path.exists():
        raise CatalogError(f"{path.relative_to(SQL_DIR)}: no {meta_path.name} beside it (description, grain)")
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    unknown = set(meta) - _KEYS
    if unknown:
        raise CatalogError(f"{meta_path.name}: unknown keys {', '.join(sorted(unknown))}")
    if meta.get("name", path.stem) != path.stem:
        raise CatalogError(f"{meta_path.name}: name {meta['name']!r} is not the file's")
    for key in ("description", "grain") + (("title",) if layer == "worklists" else ()):
        if not str(meta.get(key) or "").strip():  # a worklist's title is what its screen is called
            raise CatalogError(f"{meta_path.name}: {key} is empty")
    select = path.read_text(encoding="utf-8")
    if re.match(r"\s*CREATE\b", re.sub(r"^\s*--.*$", "", select, flags=re.M), re.I):
        raise CatalogError(f"{path.name}: a model is a bare SELECT (its YAML says how it is materialised)")
    materialized = meta.get("materialized", "view" if layer == "intermediate" else "table")
    if materialized not in ("view", "table"):
        raise CatalogError(f"{meta_path.name}: materialized {materialized!r}: expected view or table")
    if meta.get("engine") not in (None, "postgres"):
        raise CatalogError(f"{meta_path.name}: engine {meta['engine']!r}: expected postgres or nothing")
    return Model(path.stem, layer, select, str(meta["description"]).strip(), str(meta["grain"]).strip(),
                 materialized, meta.get("engine"), bool(meta.get("contains_identities", False)),
                 str(meta["title"]).strip() if meta.get("title") else None)


@functools.cache
def models() -> dict[str, Model]:
    """Every model by name, in an order where each comes after the models it reads (ties by layer, then
    name, so the order is the same on every machine)."""
    found = {m.name: m for m in _current_models()}
    for layer in ("intermediate", "marts", "worklists"):
        for path in sorted((SQL_DIR / layer).glob("*.sql")):
            if path.stem in found:
                raise CatalogError(f"model {path.stem} is defined twice")
            found[path.stem] = _read(path, layer)
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    needs = {n: {r for r in m.refs if r in found and r != n} for n, m in found.items()}
    try:  # graphlib finds a circle and names it
        graphlib.TopologicalSorter(needs).prepare()
    except graphlib.CycleError as e:
        raise CatalogError(f"models refer in a circle: {' → '.join(e.args[1])}") from None
    # Kahn's order, the first ready model by (layer, name) each time: the same on every machine, and
    # alphabetical within a layer wherever references allow
    readers: dict[str, list[str]] = {n: [] for n in found}
    for n, refs in needs.items():
        for r in refs:
            readers[r].append(n)
    waiting = {n: len(refs) for n, refs in needs.items()}
    ready = [(rank[found[n].layer], n) for n, k in waiting.items() if k == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for r in readers[n]:
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(ready, (rank[found[r].layer], r))
    return {n: found[n] for n in order}


def named(*layers: str) -> list[str]:
    """The models of these layers, in creation order."""
    return [n for n, m in models().items() if m.layer in layers]


def sql_text(name: str) -> str:
    return models()[name].select
