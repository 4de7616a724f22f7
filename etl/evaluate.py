"""Register quality against a ground-truth file (`ltcreg evaluate --truth truth.csv`).

Pairwise precision / recall / F1 over staged person-bearing records, and the share of true persons
whose records form exactly one register person.
"""
from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

from etl import db

# How each staged entity's natural id is written in truth.csv.
NATURAL_ID = {
    "health_referral": "referral_id", "health_medical_event": "event_id", "smev_application": "order_uuid",
    "smev_death": "record_number", "optima_recipient": "recipient_id",
}


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def evaluate(truth_path: Path) -> dict:
    truth: dict[tuple[str, str], str] = {}
    with open(truth_path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            truth[(row["entity"], row["natural_id"])] = row["person_key"]
    predicted: dict[tuple[str, str], int] = {}
    with db.transaction() as conn, conn.cursor() as cur:
        for entity, col in NATURAL_ID.items():
            cur.execute(f"SELECT s.{col}, l.person_id FROM staging.{entity} s JOIN register.person_link l "
                        f"ON l.entity = %s AND l.stg_id = s.stg_id", (entity,))
            for natural_id, person in cur.fetchall():
                predicted[(entity, natural_id)] = person
    keys = [k for k in predicted if k in truth]
    cells = Counter((truth[k], predicted[k]) for k in keys)
    tp = sum(pairs(n) for n in cells.values())
    pred_pairs = sum(pairs(n) for n in Counter(predicted[k] for k in keys).values())
    true_pairs = sum(pairs(n) for n in Counter(truth[k] for k in keys).values())
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    by_true, by_pred = defaultdict(set), defaultdict(set)
    for k in keys:
        by_true[truth[k]].add(k)
        by_pred[predicted[k]].add(k)
    exact = sum(1 for recs in by_true.values() if by_pred[predicted[next(iter(recs))]] == recs)
    multi = [recs for recs in by_true.values() if len(recs) > 1]
    exact_multi = sum(1 for recs in multi if by_pred[predicted[next(iter(recs))]] == recs)
    return {
        "records_evaluated": len(keys), "records_in_truth": len(truth),
        "true_persons": len(by_true), "register_persons": len(by_pred),
        "precision": precision, "recall": recall, "f1": f1,
        "persons_recovered_exactly": exact / len(by_true) if by_true else 1.0,
        "multi_record_persons_recovered_exactly": exact_multi / len(multi) if multi else 1.0,
    }
