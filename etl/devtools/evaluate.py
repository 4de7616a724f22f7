"""Register quality against a ground-truth file (`ltcreg evaluate --truth truth.csv`).

Pairwise precision / recall / F1 over staged person-bearing records of the true persons on the LTC
pathway (a held record is a cluster of its own), and the share of true persons whose records form
exactly one register person; records held for want of a person are counted beside.
"""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from etl.base import db

# How each staged entity's natural id is written in truth.csv.
NATURAL_ID = {
    "health_referral": "referral_id", "health_medical_event": "event_id", "smev_application": "order_uuid",
    "smev_death": "record_number", "optima_recipient": "recipient_id", "smev_disability": "extract_id",
}


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def evaluate(truth_path: Path) -> dict:
    truth: dict[tuple[str, str], str] = {}
    with open(truth_path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            truth[(row["entity"], row["natural_id"])] = row["person_key"]
    predicted: dict[tuple[str, str], object] = {}
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT entity FROM ref.person_source WHERE founds_person")
        founding = {e for (e,) in cur.fetchall()}
        for entity, col in NATURAL_ID.items():
            cur.execute(f"SELECT s.{col}, l.person_id FROM staging.{entity} s LEFT JOIN register.person_link l "
                        f"ON l.entity = %s AND l.stg_id = s.stg_id"
                        f" WHERE s.batch_id IN (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded')",
                        (entity,))
            for natural_id, person in cur.fetchall():
                # a held record (no person: etl/register/retention.py) is a cluster of its own
                predicted[(entity, natural_id)] = person if person is not None else ("held", entity, natural_id)
    # the register is of people on the LTC pathway: a true person none of whose records comes from a
    # founding source is rightly no one's, and is left out; a held record of anyone else is a missed link
    pathway = {truth[k] for k in predicted if k in truth and k[0] in founding}
    held = [k for k, v in predicted.items() if isinstance(v, tuple)]
    scored = {k: v for k, v in predicted.items() if k in truth and truth[k] in pathway}
    return {**partition_metrics(truth, scored), "records_in_truth": len(truth), "records_held": len(held),
            "held_of_pathway_persons": sum(1 for k in held if k in truth and truth[k] in pathway),
            "persons_outside_pathway": len({truth[k] for k in predicted if k in truth} - pathway)}


def partition_metrics(truth: dict, predicted: dict) -> dict:
    """Pairwise precision / recall / F1 of a predicted partition against the true one, over the records
    both know, and the share of true persons recovered exactly (all their records, nothing else)."""
    keys = [k for k in predicted if k in truth]
    cells = Counter((truth[k], predicted[k]) for k in keys)
    tp = sum(pairs(n) for n in cells.values())
    pred_pairs = sum(pairs(n) for n in Counter(predicted[k] for k in keys).values())
    true_pairs = sum(pairs(n) for n in Counter(truth[k] for k in keys).values())
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    true_size = Counter(truth[k] for k in keys)
    pred_size = Counter(predicted[k] for k in keys)
    # a true person is recovered exactly when its records form one predicted cluster holding nothing else
    cluster_of: dict = {}
    split: set = set()
    for k in keys:
        if cluster_of.setdefault(truth[k], predicted[k]) != predicted[k]:
            split.add(truth[k])
    exact = {t for t, c in cluster_of.items() if t not in split and pred_size[c] == true_size[t]}
    multi = [t for t, n in true_size.items() if n > 1]
    return {
        "records_evaluated": len(keys), "true_persons": len(true_size), "register_persons": len(pred_size),
        "precision": precision, "recall": recall, "f1": f1,
        "persons_recovered_exactly": len(exact) / len(true_size) if true_size else 1.0,
        "multi_record_persons_recovered_exactly": sum(t in exact for t in multi) / len(multi) if multi else 1.0,
    }
