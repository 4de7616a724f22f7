"""Settings and trained model of the person linkage: loading, saving, and what they mean in SQL.

The settings (settings.json) say which pairs are compared and how; the model (model.json) holds the
m and u probability of every comparison level, as trained, with the prior. A level's match weight
is log2(m/u); a pair's weight is the prior's log-odds plus the weights of its levels (Fellegi-Sunter,
as Splink computes it), so every link can be explained field by field.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTINGS_PATH = HERE / "settings.json"
MODEL_PATH = HERE / "model.json"


def load_settings(path: Path | None = None) -> dict:
    return json.loads(Path(path or SETTINGS_PATH).read_text(encoding="utf-8"))


@dataclass
class Model:
    prior: float
    levels: dict[str, dict[str, dict[str, float]]]  # comparison → level label → {"m", "u"}
    meta: dict = field(default_factory=dict)

    def weight(self, comparison: str, label: str) -> float:
        p = self.levels[comparison][label]
        return math.log2(p["m"] / p["u"])

    def for_records(self, n: int) -> "Model":
        """The model for a data set of n records. Matching pairs grow with n, all pairs with n², so the
        prior trained on `meta.records` records scales by (trained - 1) / (n - 1)."""
        trained = self.meta.get("records")
        if not trained or n < 2 or trained == n:
            return self
        prior = min(max(self.prior * (trained - 1) / (n - 1), 1e-12), 0.5)
        return Model(prior=prior, levels=self.levels, meta={**self.meta, "rescaled_to_records": n})

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def to_json(self) -> str:
        return json.dumps({"meta": self.meta, "prior": self.prior, "levels": self.levels}, ensure_ascii=False,
                          indent=2) + "\n"

    def save(self, path: Path | None = None) -> Path:
        path = Path(path or MODEL_PATH)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path | None = None) -> "Model":
        data = json.loads(Path(path or MODEL_PATH).read_text(encoding="utf-8"))
        return cls(prior=data["prior"], levels=data["levels"], meta=data.get("meta", {}))


def weight_of(probability: float) -> float:
    """Match weight (log2 odds) of a match probability."""
    probability = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log2(probability / (1 - probability))


def null_sql(comparison: dict) -> str:
    """When a comparison says nothing of a pair: a side is empty, or (`not_compared`) the pair's
    evidence on this field is weighed by another comparison already — names swapped are one piece of
    evidence, and counted in both name comparisons it weighed twice (seen: seven false links on FEBRL 3
    whose only agreement was a swap)."""
    extra = comparison.get("not_compared")
    return f"({comparison['null']}) OR ({extra['sql']})" if extra else comparison["null"]


def gamma_sql(comparison: dict) -> str:
    """The comparison level of a pair: -1 when it says nothing (null_sql), else the first level that holds."""
    whens = " ".join(f"WHEN {lvl['sql']} THEN {i}" for i, lvl in enumerate(comparison["levels"]))
    return f"CASE WHEN {null_sql(comparison)} THEN -1 {whens} END"


def explain(settings: dict, model: Model, gammas: dict[str, int], adjustments: dict[str, float] | None = None) -> dict:
    """Per-field contributions of one pair: {comparison: [level label, weight]} plus the prior; a
    term-frequency adjustment is included in its comparison's weight."""
    out: dict = {"prior": round(model.prior_weight, 3)}
    for comp in settings["comparisons"]:
        g = gammas.get(comp["name"], -1)
        if g is None or g < 0:
            out[comp["name"]] = ["null", 0.0]
        else:
            label = comp["levels"][g]["label"]
            extra = (adjustments or {}).get(comp["name"]) or 0.0
            out[comp["name"]] = [label, round(model.weight(comp["name"], label) + extra, 3)]
    return out
