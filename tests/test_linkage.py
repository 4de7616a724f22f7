"""The linkage engine without a database: features, guards, the standalone dedup, the Splink baseline."""
import csv
from collections import Counter

import pytest

from etl.base import normalize
from etl.devtools.evaluate import partition_metrics
from etl.devtools.generate_people import generate_people
from etl.linkage import dedup, features
from etl.linkage.cluster import Clusterer
from etl.linkage.model import load_settings


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    out = tmp_path_factory.mktemp("people")
    counts = generate_people(out, records=6000, seed=3)
    return out, counts


def test_sql_snils_and_address_rules_agree_with_python():
    con = dedup.connect(threads=1)
    body = "012345678"
    good = body + normalize.snils_checksum(body)
    values = [good, good.lstrip("0"), good.lstrip("0") + ".0", f"{good[:3]}-{good[3:6]}-{good[6:9]} {good[9:]}",
              good[:-1] + str((int(good[-1]) + 1) % 10), "нет", "123", "", "00100199800", "1234567890123",
              "112-233-445 95", "11223344595.00", " 112 233 445 95 ", "1e10"]
    con.execute("CREATE TABLE t (v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    digits = normalize.snils_sql("trim(v)")
    rows = con.execute(f"SELECT v, CASE WHEN {normalize.snils_valid_sql(digits)} THEN {digits} END FROM t").fetchall()
    for v, sql_snils in rows:
        assert sql_snils == normalize.normalize_snils(v)[0], v
    addresses = ["г. Тула, улица Ленина, дом 5, кв.3", "Тула г, ул.Ленина д.5 кв 3", "пос. Рамонь, пер. Школьный, 4",
                 "с. Новая Усмань, ул. Юбилейная, д. 12, корп. 2", "ЛИСКИ, ПРОСПЕКТ МИРА, Д 1", "", "д. Ёлкино"]
    con.execute("CREATE TABLE a (v VARCHAR)")
    con.executemany("INSERT INTO a VALUES (?)", [[v] for v in addresses])
    got = dict(con.execute(f"SELECT v, {features.address_sql('v')} FROM a").fetchall())
    for v in addresses:
        expected = normalize.address_key(v).translate(str.maketrans(features.CYRILLIC, features.ONE_BYTE)) or None
        assert got[v] == expected, v


def test_guards_stop_chaining_through_weak_links():
    guards = load_settings()["guards"]
    # records: (snils, first_key, dob, year, imprecise, sex, fixed)
    records = [
        ("11223344595", "anna", "1950-04-02", 1950, False, "F", None),  # A
        (None, "anna", None, 1950, True, "F", None),                    # B: name and year only
        (None, "vera", "1950-04-02", 1950, False, "F", None),           # C: A's twin sister
        ("08765430300", "anna", "1950-04-02", 1950, False, "F", None),  # D: a namesake with another SNILS
    ]
    c = Clusterer(records, guards)
    # strong A–C (twins share everything but the first name), A–B, B–C and A–D
    c.run([(0, 2, 30.0), (0, 3, 25.0), (0, 1, 20.0), (1, 2, 19.0)], link_weight=4.0, review_weight=0.0)
    labels = c.labels()
    assert labels[0] == labels[1]
    assert labels[2] != labels[0] and labels[3] != labels[0]
    outcomes = Counter(d.outcome.split(":")[0] for d in c.decisions)
    assert outcomes == {"link": 1, "refused": 3}
    assert {d.outcome for d in c.decisions if d.l == 0 and d.r == 3} == {"refused:two_snils"}


def test_twins_named_alike_by_the_start_are_refused_while_a_typo_passes():
    guards = load_settings()["guards"]

    def key(name):
        return normalize.name_key(name).translate(str.maketrans(features.CYRILLIC, features.ONE_BYTE))

    def run(second):
        records = [(None, key("Валентин"), "1970-01-15", 1970, False, "M", None),
                   (None, key(second), "1970-01-15", 1970, False, "M", None)]
        c = Clusterer(records, guards)
        c.run([(0, 1, 20.0)], link_weight=4.0, review_weight=0.0)
        return c.decisions[0].outcome

    assert run("Валерий") == "refused:conflict:first_name"  # Jaro-Winkler 0.85: passed at a 0.8 threshold
    assert run("Валетнин") == "link"                         # letters transposed
    assert run("Валентн") == "link"                          # a letter lost


def test_a_person_whose_two_records_fit_two_persons_goes_to_review():
    """Ambiguity of a cluster, not only of a record: x1 and x2 are one person (no SNILS); x1 fits b, x2
    fits c almost as well, and b and c have different SNILS. Asked of the record on the edge alone, x1
    fitted only b and joined it (then x2–c was refused); asked of the cluster, the pair goes to review."""
    guards = load_settings()["guards"]
    rec = ("anna", "1950-04-02", 1950, False, "F", None)
    records = [(None, *rec), (None, *rec), ("11223344595", *rec), ("08765430300", *rec)]
    edges = [(0, 1, 30.0), (0, 2, 20.0), (1, 3, 18.0)]
    rivals = {0: [(1, 30.0), (2, 20.0)], 1: [(0, 30.0), (3, 18.0)]}
    c = Clusterer(records, guards)
    c.run(edges, link_weight=4.0, review_weight=0.0, rivals=rivals, margin=5.0)
    labels = c.labels()
    assert labels[0] == labels[1] and labels[0] not in (labels[2], labels[3])
    assert [d.outcome for d in c.decisions if (d.l, d.r) == (0, 2)] == ["review:ambiguous"]
    # beyond the margin the better person is taken
    c = Clusterer(records, guards)
    c.run([(0, 1, 30.0), (0, 2, 20.0), (1, 3, 14.0)], link_weight=4.0, review_weight=0.0,
          rivals={0: [(1, 30.0), (2, 20.0)], 1: [(0, 30.0), (3, 14.0)]}, margin=5.0)
    labels = c.labels()
    assert labels[0] == labels[1] == labels[2] != labels[3]


def test_shared_snils_tolerates_one_conflict_and_reviews_two():
    guards = load_settings()["guards"]
    typo = [("11223344595", "ivan", "1945-03-01", 1945, False, "M", None),
            ("11223344595", "piotr", "1945-03-01", 1945, False, "M", None)]
    c = Clusterer(typo, guards)
    c.run([(0, 1, 30.0)], 4.0, 0.0)
    assert c.labels()[0] == c.labels()[1]
    both = [("11223344595", "ivan", "1945-03-01", 1945, False, "M", None),
            ("11223344595", "piotr", "1972-11-09", 1972, False, "M", None)]
    c = Clusterer(both, guards)
    c.run([(0, 1, 30.0)], 4.0, 0.0)
    assert c.labels()[0] != c.labels()[1]
    assert c.decisions[0].outcome == "review:snils_conflict:first_name+birth_date"


def test_manual_decisions_override_scores_and_guards():
    guards = load_settings()["guards"]
    recs = [(None, "olga", "1952-05-04", 1952, False, "F", None), (None, "olga", "1952-05-04", 1952, False, "F", None),
            (None, "olga", "1925-05-04", 1925, False, "F", None)]
    c = Clusterer(recs, guards)
    c.apply_manual(matches=[(0, 2)], non_matches=[(0, 1)])
    c.run([(0, 1, 40.0), (1, 2, 35.0)], 4.0, 0.0)
    labels = c.labels()
    assert labels[0] == labels[2] != labels[1]


def read_output(path):
    with open(path, encoding="utf-8", newline="") as f:
        return {r["record_id"]: r["register_id"] for r in csv.DictReader(f)}


def test_dedup_csv_finds_persons_and_keeps_look_alikes_apart(people, tmp_path):
    folder, counts = people
    out, explain = tmp_path / "out.csv", tmp_path / "pairs.csv"
    result = dedup.dedup_csv(folder / "records.csv", out, explain_path=explain)
    pred = read_output(out)
    with open(folder / "truth.csv", encoding="utf-8") as f:
        truth = {r["record_id"]: r["person_key"] for r in csv.DictReader(f)}
    assert set(pred) == set(truth) and len(pred) == counts["records"]
    m = partition_metrics(truth, pred)
    assert m["precision"] > 0.995 and m["recall"] > 0.99, m
    records_of = {}
    for rec, person in truth.items():
        records_of.setdefault(person, []).append(rec)
    with open(folder / "hard_pairs.csv", encoding="utf-8") as f:
        hard = list(csv.DictReader(f))
    merged = [h for h in hard if {pred[r] for r in records_of[h["person_a"]]} & {pred[r] for r in records_of[h["person_b"]]}]
    assert len(hard) > 20 and len(merged) / len(hard) < 0.02, merged
    # every decided pair is explained, and its weight is the sum of its contributions
    with open(explain, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert Counter(r["outcome"].split(":")[0] for r in rows)["link"] == result.counts["links"]
    names = [c["name"] for c in result.settings["comparisons"]]
    for r in rows[:200]:
        total = result.model.prior_weight + sum(float(r[f"{n}_weight"]) for n in names)
        assert float(r["match_weight"]) == pytest.approx(total, abs=0.01)
    # the same input gives the same register ids
    again = tmp_path / "again.csv"
    dedup.dedup_csv(folder / "records.csv", again)
    assert again.read_bytes() == out.read_bytes()


def test_dedup_rejects_bad_input_clearly(tmp_path):
    from etl.cli import main

    no_id = tmp_path / "no_id.csv"
    no_id.write_text("surname,first_name\nИванов,Иван\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no record_id column"):
        dedup.dedup_csv(no_id, tmp_path / "o.csv")
    dup = tmp_path / "dup.csv"
    dup.write_text("record_id,surname,birth_date\n1,Иванов,01.02.1950\n1,Петров,1950-02-01\n", encoding="utf-8")
    with pytest.raises(ValueError, match="1 repeated"):
        dedup.dedup_csv(dup, tmp_path / "o.csv")
    assert main(["dedup", str(dup), "-o", str(tmp_path / "o.csv")]) == 2
    # missing optional columns and impossible dates are not errors: the record simply says less
    sparse = tmp_path / "sparse.csv"
    sparse.write_text("record_id,surname,first_name,birth_date\n1,Иванов,Иван,31.02.1950\n2,ИВАНОВ,Иван,1950\n"
                      "3,Иванов,Иван,\n", encoding="utf-8")
    assert main(["dedup", str(sparse), "-o", str(tmp_path / "s.csv")]) == 0
    assert set(read_output(tmp_path / "s.csv")) == {"1", "2", "3"}


def test_splink_baseline_runs(people, tmp_path):
    from etl.linkage.baseline import run_baseline

    folder, counts = people
    out = tmp_path / "splink.csv"
    run_baseline(folder / "records.csv", out)
    assert len(read_output(out)) == counts["records"]


def test_dedup_increment_keeps_existing_ids(people, tmp_path):
    folder, counts = people
    lines = (folder / "records.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    old_input = tmp_path / "old_records.csv"
    old_input.write_text("".join(lines[:-500]), encoding="utf-8")
    old_out, model = tmp_path / "old.csv", tmp_path / "model.json"
    old = dedup.dedup_csv(old_input, old_out, save_model=model)
    before = read_output(old_out)
    new_out = tmp_path / "new.csv"
    result = dedup.dedup_csv(folder / "records.csv", new_out, model_path=model, existing=old_out)
    after = read_output(new_out)
    assert {k: after[k] for k in before} == before  # nobody already registered changes id
    new_ids = {after[k] for k in after if k not in before} - set(before.values())
    assert max(new_ids) > max(before.values())  # new persons are numbered after the existing ones
    # only pairs with a new record were compared (a tenth of the records: far fewer than a full run's)
    assert result.counts["candidate_pairs"] < old.counts["candidate_pairs"] / 3
    with open(folder / "truth.csv", encoding="utf-8") as f:
        truth = {r["record_id"]: r["person_key"] for r in csv.DictReader(f)}
    assert partition_metrics(truth, after)["f1"] > 0.99


def test_our_scoring_gives_splinks_levels_adjustments_and_weights(people):
    """pairs.weigh (one pass in SQL) against Splink's predict() with the same settings, model and pairs:
    the same level, term-frequency adjustment and match weight for every candidate pair."""
    from etl.linkage import pairs, splink_scoring
    from etl.linkage.model import Model

    out, _ = people
    con = dedup.connect(threads=2)
    con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{out / 'records.csv'}', all_varchar = true)")
    con.execute("CREATE VIEW linkage_input AS SELECT *, rowid AS ord FROM raw")
    features.build(con)
    settings, model = load_settings(), Model.load().for_records(6000)
    n = pairs.candidates(con, settings)
    pairs.term_frequencies(con, settings, model)
    splink_scoring.score(con, settings, model)
    con.execute("ALTER TABLE pairs RENAME TO by_splink")
    pairs.weigh(con, settings, model, "cand", "ours")
    g = [f"g_{c['name']}" for c in settings["comparisons"]]
    a = [f"a_{c['name']}" for c in settings["comparisons"] if c.get("tf_column")]
    assert n > 5000 and a
    diff = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE {' OR '.join(f's.{x} <> o.{x}' for x in g)}),
            max(abs(s.w - o.w)), {', '.join(f'max(abs(s.{x} - o.{x}))' for x in a)}
        FROM by_splink s FULL JOIN ours o USING (l, r)""").fetchone()
    assert diff[0] == n and diff[1] == 0, diff
    assert all(d < 1e-9 for d in diff[2:]), diff


def test_every_blocking_rule_is_symmetric_so_an_increment_can_join_new_records_to_all(people):
    """pairs.candidates joins an increment's new records to every record with each rule's SQL, the new
    record on the left: right only if rule(a, b) and rule(b, a) always agree."""
    import re

    from etl.linkage import pairs

    out, _ = people
    con = dedup.connect(threads=2)
    con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{out / 'records.csv'}', all_varchar = true)")
    con.execute("CREATE VIEW linkage_input AS SELECT *, rowid AS ord FROM raw")
    features.build(con)
    found = 0
    for rule in load_settings()["blocking_rules"]:
        table = "rec"
        if "explode" in rule:  # its keys are a record's list values: the rows it joins, uncapped
            table = "exploded"
            pairs._small_blocks(con, {**rule, "max_block": 10 ** 9}, table)
        swapped = re.sub(r"\b([lr])\.", lambda m: {"l": "r.", "r": "l."}[m[1]], rule["sql"])
        one_way = con.execute(f"SELECT count(*) FROM {table} l JOIN {table} r ON {rule['sql']} AND l.rid < r.rid"
                              ).fetchone()[0]
        both = con.execute(f"SELECT count(*) FROM {table} l JOIN {table} r ON ({rule['sql']}) AND ({swapped}) "
                           "AND l.rid < r.rid").fetchone()[0]
        assert one_way == both, rule["name"]
        found += one_way > 0
    assert found >= 12  # the sample exercises the rules (names swapped, say, may find nobody in it)


def test_an_increment_finds_the_pairs_a_full_run_finds_with_a_new_record(people):
    from etl.linkage import pairs

    out, _ = people
    con = dedup.connect(threads=2)
    con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{out / 'records.csv'}', all_varchar = true)")
    # the last 500 records are new; the others belong to persons already (each its own here)
    con.execute("CREATE VIEW linkage_input AS SELECT *, rowid AS ord, CASE WHEN rowid < 5500 THEN rowid END::BIGINT"
                " AS fixed, rowid >= 5500 AS is_new FROM raw")
    features.build(con)
    settings = load_settings()
    pairs.candidates(con, settings)
    con.execute("CREATE TABLE full_run AS SELECT c.* FROM cand c JOIN rec l ON l.rid = c.l JOIN rec r ON r.rid = c.r"
                " WHERE l.is_new OR r.is_new")
    n = pairs.candidates(con, settings, incremental=True)
    assert n > 100
    assert con.execute("SELECT count(*) FROM (SELECT * FROM full_run EXCEPT SELECT * FROM cand)").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM (SELECT * FROM cand EXCEPT SELECT * FROM full_run)").fetchone()[0] == 0
