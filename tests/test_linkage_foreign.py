"""The register on data it was not tuned to (issue 16): training without SNILS labels, records that
fit two people held for review, namesakes of one full name and birth date kept apart."""
import copy
import csv

import pyarrow as pa

from etl.devtools.evaluate import partition_metrics
from etl.devtools.generate_people import generate_people
from etl.linkage import dedup, features
from etl.linkage.model import Model, load_settings

SURNAMES = ["Иванова", "Петрова", "Сидорова", "Кузнецова", "Смирнова", "Попова", "Соколова", "Лебедева",
            "Козлова", "Новикова", "Морозова", "Волкова", "Алексеева", "Лебедева", "Семенова", "Егорова",
            "Павлова", "Степанова", "Николаева", "Орлова", "Андреева", "Макарова", "Никитина", "Захарова",
            "Зайцева", "Соловьева", "Борисова", "Яковлева"]
FIRST = ["Мария", "Анна", "Галина", "Нина", "Валентина", "Тамара", "Зоя", "Лидия"]
PATRONYMIC = ["Петровна", "Ивановна", "Сергеевна", "Николаевна", "Андреевна", "Павловна", "Федоровна"]


def _snils(n: int) -> str:
    body = f"{100000000 + n * 7919:09d}"
    total = sum(int(d) * (9 - i) for i, d in enumerate(body))
    check = total if total < 100 else 0 if total in (100, 101) else total % 101 % 100
    return body + f"{check:02d}"


def _record(rid, snils, name, dob, address, municipality):
    sn, fn, pn = name
    return {"record_id": rid, "source": "t", "snils": snils, "surname": sn, "first_name": fn, "patronymic": pn,
            "sex": "Ж", "birth_date": dob, "address": address, "municipality": municipality}


def _link(rows, settings=None):
    con = dedup.connect(threads=1)
    cols = features.INPUT_COLUMNS
    con.register("rows", pa.table({c: [r[c] or None for r in rows] for c in cols}))
    con.execute(f"CREATE TABLE t AS SELECT {', '.join(cols)}, row_number() OVER () AS ord FROM rows")
    con.execute("CREATE VIEW linkage_input AS SELECT * FROM t")
    result = dedup.link(con, settings or load_settings(), Model.load())
    ids = [r[0] for r in con.execute("SELECT record_id FROM rec ORDER BY rid").fetchall()]
    return {ids[i]: label for i, label in enumerate(result.labels)}, result, ids


def test_no_snils_at_all_links_by_expectation_maximisation(tmp_path):
    generate_people(tmp_path, records=4000, seed=5, snils_coverage=0.0)
    result = dedup.dedup_csv(tmp_path / "records.csv", tmp_path / "out.csv")
    meta = result.model.meta
    assert meta["snils_pairs"] == 0 and set(meta["m_estimated_by"].values()) == {"em"}
    assert all(s["converged"] for s in meta["em"]["sessions"])
    truth = {r["record_id"]: r["person_key"] for r in csv.DictReader(open(tmp_path / "truth.csv", encoding="utf-8"))}
    pred = {r["record_id"]: r["register_id"] for r in csv.DictReader(open(tmp_path / "out.csv", encoding="utf-8"))}
    m = partition_metrics(truth, pred)
    # m learnt from SNILS pairs alone found none here: every level fell to the smoothing's uniform m
    assert m["recall"] >= 0.97 and m["precision"] >= 0.995, m
    # a trained m says what agreeing is worth: exact birth date far above a one-letter difference
    assert result.model.levels["birth_date"]["exact"]["m"] > 0.8


def test_a_record_fitting_two_namesakes_equally_goes_to_review():
    name = ("Иванова", "Мария", "Петровна")
    a, b = _snils(1), _snils(2)
    rows = [_record("a1", a, name, "04.03.1950", "г. Воронеж, ул. Ленина, д. 1", "20701000"),
            _record("a2", a, name, "1950-03-04", "г. Воронеж, ул. Ленина, д. 1", "20701000"),
            _record("b1", b, name, "04.03.1950", "г. Анна, ул. Мира, д. 7", "20605000"),
            _record("b2", b, name, "1950-03-04", "г. Анна, ул. Мира, д. 7", "20605000"),
            _record("c", "", name, "04.03.1950", "", "")]  # fits both alike: no SNILS, no address
    labels, result, _ = _link(rows)
    assert labels["a1"] == labels["a2"] and labels["b1"] == labels["b2"] and labels["a1"] != labels["b1"]
    assert labels["c"] not in (labels["a1"], labels["b1"])
    assert result.counts["review_held"]["ambiguous"] >= 1
    assert any(d.outcome == "review:ambiguous" for d in result.decisions)


def _namesake_region(different_snils: bool):
    """28 full names, each held by two people (or one who moved, by one SNILS) in two municipalities,
    both with SNILS; and the pair under test: one with SNILS, one without, elsewhere."""
    rows = []
    for i, sn in enumerate(SURNAMES):
        name, dob = (sn, FIRST[i % len(FIRST)], PATRONYMIC[i % len(PATRONYMIC)]), f"{1 + i:02d}.05.1948"
        rows.append(_record(f"x{i}", _snils(100 + i), name, dob, f"г. Воронеж, ул. Садовая, д. {i + 1}", "20701000"))
        other = _snils(200 + i) if different_snils else _snils(100 + i)
        rows.append(_record(f"y{i}", other, name, dob, f"г. Калач, ул. Пушкина, д. {i + 1}", "20619000"))
    name = ("Тихонова", "Дарья", "Федоровна")
    rows.append(_record("p", _snils(999), name, "27.07.1933", "г. Бобров, ул. Садовая, д. 103", "20609000"))
    rows.append(_record("q", "", name, "27.07.1933", "г. Лиски, ул. Мира, д. 5", "20621000"))
    return rows


def test_namesakes_of_one_name_and_birth_date_go_to_review_where_the_data_has_them():
    settings = copy.deepcopy(load_settings())
    settings["namesakes"]["expected_min"] = 0.0  # the test's names are few; the share decides here
    labels, result, _ = _link(_namesake_region(different_snils=True), settings)
    seen = result.counts["namesake_rule"]
    assert seen["labelled_pairs"] == len(SURNAMES) and seen["share"] == 1.0
    assert labels["p"] != labels["q"]
    assert any(d.outcome == "review:namesake" for d in result.decisions)
    # where such pairs are the same person who moved (one SNILS), the same evidence links
    labels, result, _ = _link(_namesake_region(different_snils=False), settings)
    assert result.counts["namesake_rule"]["share"] == 0.0
    assert labels["p"] == labels["q"]


def test_a_namesake_pair_whose_names_or_date_agree_only_loosely_goes_to_review_too():
    """Weaker evidence than the exact pattern is no reason to link where namesakes are common: a typo
    in the surname, initials, no patronymic, day and month swapped or a year only (issue 16: most of the
    namesakes merged at 100 k escaped the rule this way)."""
    settings = copy.deepcopy(load_settings())
    settings["namesakes"]["expected_min"] = 0.0
    full = ("Тихонова", "Дарья", "Федоровна")
    loose = [("05.07.1933", ("Тиханова", "Дарья", "Федоровна"), "05.07.1933"),
             ("05.07.1933", ("Тихонова", "Д.", "Ф."), "05.07.1933"),
             ("05.07.1933", ("Тихонова", "Дарья", ""), "05.07.1933"),
             ("05.07.1933", full, "07.05.1933"), ("05.07.1933", full, "1933")]
    for p_dob, name, dob in loose:
        for different, apart in ((True, True), (False, False)):
            # where namesakes are common, held apart; where such pairs are one person who moved, linked
            rows = _namesake_region(different_snils=different)
            rows[-2] = _record("p", _snils(999), full, p_dob, "г. Бобров, ул. Садовая, д. 103", "20609000")
            rows[-1] = _record("q", "", name, dob, "г. Лиски, ул. Мира, д. 5", "20621000")
            labels, _, _ = _link(rows, settings)
            assert (labels["p"] != labels["q"]) == apart, (name, dob, different)


def test_a_namesake_without_a_patronymic_is_held_whichever_record_comes_first():
    """The expected namesakes of a pair multiply the frequencies of its names; a name one side lacks
    narrows nothing (factor 1). The frequencies were joined on the first record's names, so a pair whose
    first record had no patronymic fell out of the rule and linked (5 of the 19 namesakes merged at 100 k
    with 2 % namesakes)."""
    settings = copy.deepcopy(load_settings())
    settings["namesakes"]["expected_min"] = 0.0
    full, bare = ("Тихонова", "Дарья", "Федоровна"), ("Тихонова", "Дарья", "")
    for first in ("p", "q"):
        rows = _namesake_region(different_snils=True)
        p = _record("p", _snils(999), full, "05.07.1933", "г. Бобров, ул. Садовая, д. 103", "20609000")
        q = _record("q", "", bare, "05.07.1933", "г. Лиски, ул. Мира, д. 5", "20621000")
        rows[-2:] = [p, q] if first == "p" else [q, p]
        labels, result, _ = _link(rows, settings)
        assert labels["p"] != labels["q"], first
        assert any(d.outcome == "review:namesake" for d in result.decisions), first


def test_names_swapped_and_latin_addresses_link():
    rows = [_record("a", "", ("Quilliam", "Ashleigh", ""), "1946-07-30", "57 bedford street rosall", "surrey hills 6525"),
            _record("b", "", ("Ashleigh", "Quilliam", ""), "1946-07-30", "57 bedford s treet rosall", "surrey hills 6525"),
            # another person at another address, of the same birth date: not linked by the date alone
            _record("c", "", ("Green", "William", ""), "1946-07-30", "358 macrossan crescent", "yagoona 2535")]
    labels, result, _ = _link(rows)
    assert labels["a"] == labels["b"] != labels["c"]
    con = dedup.connect(threads=1)
    key = con.execute(f"SELECT {features.address_sql(repr('57 Bedford Street, Rosall'))}").fetchall()[0][0]
    assert key == "57 BEDFORD STREET ROSALL"  # Latin letters kept (they were dropped: only "57" was left)


def _with_first_names_replaced(tmp_path, share: float) -> tuple[dict, set]:
    """A generated region without SNILS where, in `share` of the persons with two or more records, one
    later record carries another first name altogether (as FEBRL corrupts names): returns the truth
    and the ids of the records changed."""
    generate_people(tmp_path, records=4000, seed=5, snils_coverage=0.0)
    truth = {r["record_id"]: r["person_key"] for r in csv.DictReader(open(tmp_path / "truth.csv", encoding="utf-8"))}
    rows = list(csv.DictReader(open(tmp_path / "records.csv", encoding="utf-8")))
    pool = sorted({r["first_name"] for r in rows if len(r["first_name"]) > 2})
    seen, changed = {}, set()
    for i, r in enumerate(rows):
        person = truth[r["record_id"]]
        if person in seen and seen[person] is not None and len(changed) < share * len(set(truth.values())):
            other = [n for n in pool if n[0] != (r["first_name"] or "?")[0]]
            r["first_name"] = other[i % len(other)]
            changed.add(r["record_id"])
            seen[person] = None  # one changed record per person
        seen.setdefault(person, r["record_id"])
    with open(tmp_path / "records.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, rows[0].keys())
        w.writeheader()
        w.writerows(rows)
    return truth, changed


def test_the_first_name_guard_holds_only_where_the_data_has_stable_first_names(tmp_path):
    # Russian civil records copy names from documents: the guard holds, a different first name with all
    # else alike is a twin
    generate_people(tmp_path / "stable", records=4000, seed=5, snils_coverage=0.0)
    stable = dedup.dedup_csv(tmp_path / "stable" / "records.csv", tmp_path / "stable" / "out.csv")
    assert stable.counts["guards"]["first_name"]["holds"] is True
    # a source that replaces first names in a fifth of its duplicates: EM learns that from the data,
    # the guard gives way and the match weight decides
    truth, changed = _with_first_names_replaced(tmp_path / "replaced", share=0.2)
    assert len(changed) > 200
    result = dedup.dedup_csv(tmp_path / "replaced" / "records.csv", tmp_path / "replaced" / "out.csv")
    guard = result.counts["guards"]["first_name"]
    assert guard["holds"] is False and guard["m_different"] > 0.05, guard
    pred = {r["record_id"]: r["register_id"]
            for r in csv.DictReader(open(tmp_path / "replaced" / "out.csv", encoding="utf-8"))}
    first_of = {}
    for rec, person in truth.items():
        if rec not in changed:
            first_of.setdefault(person, rec)
    rejoined = sum(pred[rec] == pred[first_of[truth[rec]]] for rec in changed)
    assert rejoined / len(changed) >= 0.8, (rejoined, len(changed))
    m = partition_metrics(truth, pred)
    # twins are told apart by the first name's weight alone now: a little precision is the price
    assert m["f1"] >= 0.98 and m["precision"] >= 0.98, m
    # the same data with the guard made to hold keeps the changed records on their own
    settings = copy.deepcopy(load_settings())
    settings["guards"]["learnt"]["max_m"] = 1.0
    con = dedup.connect(threads=1)
    path = tmp_path / "replaced" / "records.csv"
    con.execute(f"CREATE TABLE raw AS SELECT * FROM {dedup._read_person_csv(path)}", [str(path)])
    con.execute(f"CREATE VIEW linkage_input AS SELECT {', '.join(features.INPUT_COLUMNS)}, rowid AS ord FROM raw")
    held = dedup.link(con, settings)
    ids = [r[0] for r in con.execute("SELECT record_id FROM rec ORDER BY rid").fetchall()]
    label = dict(zip(ids, held.labels))
    assert sum(label[rec] == label[first_of[truth[rec]]] for rec in changed) / len(changed) < 0.2


def test_the_learnt_guards_follow_the_model():
    settings, model = load_settings(), Model.load()
    guards, state = dedup.learnt_guards(settings["guards"], model)
    assert guards["first_name"] is True and guards["birth_date"] is True
    levels = copy.deepcopy(model.levels)
    for name in ("first_name", "birth_date"):
        levels[name]["different"]["m"] = 0.2
    guards, state = dedup.learnt_guards(settings["guards"], Model(model.prior, levels, model.meta))
    assert guards["first_name"] is False and guards["birth_date"] is False
    assert state["first_name"] == {"holds": False, "m_different": 0.2}


def _features(rows):
    con = dedup.connect(threads=1)
    cols = features.INPUT_COLUMNS
    con.register("rows", pa.table({c: [r[c] or None for r in rows] for c in cols}))
    con.execute(f"CREATE TABLE t AS SELECT {', '.join(cols)}, row_number() OVER () AS ord FROM rows")
    con.execute("CREATE VIEW linkage_input AS SELECT * FROM t")
    features.build(con)
    return con


def test_a_capped_blocking_rule_joins_only_its_small_blocks():
    from etl.linkage import pairs

    # eleven records share house number 12 and a surname prefix: a block over the cap of ten; two share 7
    rows = [_record(f"big{i}", "", (f"Ивано{'вабгдежзикл'[i]}", FIRST[i % 8], ""), f"19{40 + i}-01-01",
                    "ул. Мира, д. 12", "") for i in range(11)]
    rows += [_record("s1", "", ("Петров", "Иван", ""), "1950-01-01", "ул. Садовая, д. 7", ""),
             _record("s2", "", ("Петровский", "Олег", ""), "1960-02-02", "пер. Тихий, д. 7", "")]
    con = _features(rows)
    rule = next(r for r in load_settings()["blocking_rules"] if r["name"] == "address_numbers_surname_prefix")
    assert rule["max_block"] == 10
    only = {**load_settings(), "blocking_rules": [rule]}
    assert pairs.candidates(con, only) == 1  # s1–s2; the block of eleven is left out
    assert pairs.candidates(con, {**only, "blocking_rules": [{**rule, "max_block": 11}]}) == 1 + 55


def test_address_words_in_another_order_and_municipalities_folded():
    from etl.linkage import pairs

    rows = [_record("a", "", ("Quilliam", "Ashleigh", ""), "", "73 Rhosewyn Bynoe Place", "Lake Clifton 2649"),
            _record("b", "", ("Quilliam", "Ashleigh", ""), "", "73 Bynoe Place, Rhosewyn", "lakeclifton 2649"),
            _record("c", "", ("Quilliam", "Ashleigh", ""), "", "5 Other Street", "lake clifton 2640")]
    con = _features(rows)
    settings = load_settings()
    con.execute("CREATE TABLE p AS SELECT 0::BIGINT AS l, 1::BIGINT AS r UNION ALL SELECT 0, 2")
    pairs.compare(con, settings, "p", "scored")
    labels = [x["label"] for x in next(c for c in settings["comparisons"] if c["name"] == "address")["levels"]]
    got = dict(con.execute("SELECT r, g_address FROM scored").fetchall())
    assert labels[got[1]] == "words_reordered"
    assert labels[got[2]] == "municipality_alike"  # one digit of the postcode away


def _crowded_source(persons: int = 300, seed: int = 3) -> list[dict]:
    """A source where every person has three records among few (FEBRL's shape, in Latin letters): the
    second with a typo in the surname, the third with both names replaced by other common names — only
    its birth date and address say who it is. Names come from short lists, so they repeat across
    persons; birth dates and addresses are the person's own."""
    import random

    rnd = random.Random(seed)
    surnames = ["smith", "jones", "brown", "wilson", "taylor", "white", "martin", "walker", "green", "hall",
                "wood", "clarke", "king", "baker", "hill", "young", "ryan", "kelly", "ward", "cooper"]
    firsts = ["jack", "emily", "james", "chloe", "thomas", "olivia", "joshua", "sophie", "ryan", "grace",
              "liam", "zoe", "noah", "ella", "lucas", "mia"]
    syllables = ["ka", "lo", "mar", "vin", "del", "ro", "sa", "tem", "bur", "gal", "ne", "fi"]
    rows, used = [], set()
    for p in range(persons):
        sn, fn = rnd.choice(surnames), rnd.choice(firsts)
        while True:
            dob = f"{rnd.randint(1920, 1990)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            street = "".join(rnd.choice(syllables) for _ in range(3)) + " street"
            if (dob, street) not in used:
                used.add((dob, street))
                break
        address, suburb = f"{rnd.randint(1, 200)} {street}", f"suburb{rnd.randint(1, 60)} {rnd.randint(2000, 7000)}"
        typo = sn[:-1] + ("x" if sn[-1] != "x" else "y")
        others = (rnd.choice([s for s in surnames if s != sn]), rnd.choice([f for f in firsts if f != fn]))
        for k, (s, f) in enumerate([(sn, fn), (typo, fn), others]):
            rows.append({"record_id": f"p{p}-{k}", "source": "t", "snils": "", "surname": s, "first_name": f,
                         "patronymic": "", "sex": "", "birth_date": dob, "address": address, "municipality": suburb})
    return rows


def test_u_counts_strangers_only_where_records_of_one_person_are_many():
    """Among 900 records of 300 persons a random pair is one person's once in 450: counted as strangers,
    those pairs made an exact birth date and address look common between strangers (u), and a record
    whose names were both replaced stayed on its own (FEBRL: 86 such pairs held for review in set 3)."""
    rows = _crowded_source()
    con = dedup.connect(threads=1)
    cols = features.INPUT_COLUMNS
    con.register("rows", pa.table({c: [r[c] or None for r in rows] for c in cols}))
    con.execute(f"CREATE TABLE t AS SELECT {', '.join(cols)}, row_number() OVER () AS ord FROM rows")
    con.execute("CREATE VIEW linkage_input AS SELECT * FROM t")
    result = dedup.link(con)  # trained on the records themselves, by EM (no SNILS)
    meta = result.model.meta
    assert "em" in meta["m_estimated_by"].values() and meta["snils_pairs"] == 0
    # the random pairs held about 1/450 of one person's pairs: the model found them, and u left them out
    assert meta["random_pairs_matches"] > 0
    # counted as strangers, one person's pairs alone put u of an exact birth date near 1/450; strangers
    # here never share one, and u is now of the order of the smoothing's single pseudo-count
    u = result.model.levels["birth_date"]["exact"]["u"]
    assert u < 0.2 / 450, u
    ids = [r[0] for r in con.execute("SELECT record_id FROM rec ORDER BY rid").fetchall()]
    label = dict(zip(ids, result.labels))
    rejoined = sum(label[f"p{p}-2"] == label[f"p{p}-0"] for p in range(300))
    assert rejoined == 300, rejoined  # (298 with u counted over all random pairs, 2 more held for review)
    truth = {i: i.split("-")[0] for i in ids}
    assert partition_metrics(truth, {i: str(label[i]) for i in ids})["precision"] == 1.0


def test_names_swapped_weigh_once():
    """A swap of surname and first name is one piece of evidence: the surname comparison weighs it and
    the first name is then not compared. Counted in both it weighed twice, and pairs whose only
    agreement was a swap of two common names linked (seen: seven false links on FEBRL 3)."""
    from etl.linkage import pairs

    rows = [_record("a", "", ("Morgan", "Ryan", ""), "1951-03-04", "12 Acacia Road", "Dubbo 2830"),
            _record("b", "", ("Ryan", "Morgan", ""), "1988-11-23", "7 Harbour Street", "Bondi 2026")]
    con = _features(rows)
    settings, model = load_settings(), Model.load()
    pairs.term_frequencies(con, settings, model)
    con.execute("CREATE TABLE p AS SELECT 0::BIGINT AS l, 1::BIGINT AS r")
    pairs.weigh(con, settings, model, "p", "scored")
    names = [c["name"] for c in settings["comparisons"]]
    row = con.execute(f"SELECT w, {', '.join('g_' + n for n in names)} FROM scored").fetchone()
    w, g = row[0], dict(zip(names, row[1:]))
    surname = next(c for c in settings["comparisons"] if c["name"] == "surname")
    assert surname["levels"][g["surname"]]["label"] == "swapped_with_first_name"
    assert g["first_name"] == -1
    # the weight: the prior and each compared field's level once (no term frequency on a swap)
    expected = model.prior_weight + sum(model.weight(c["name"], c["levels"][g[c["name"]]]["label"])
                                        for c in settings["comparisons"] if g[c["name"]] >= 0)
    assert abs(w - expected) < 1e-9
    labels, _, _ = _link(rows)
    assert labels["a"] != labels["b"]


def test_a_rare_address_word_with_a_name_prefix_or_municipality_blocks():
    """Records of one person whose birth dates and house numbers were both corrupted (FEBRL 3: 50 of the
    85 records left apart were in no block) meet in the small blocks of an address word shared with a
    name's first letters, either way round, or with the municipality; a pair sharing two such blocks
    comes once."""
    from etl.linkage import pairs

    rows = [_record("a", "", ("Pamplin", "Ambrose", ""), "1969-10-06", "14 Andrea Palce Milton", "sevenhills 5054"),
            _record("b", "", ("Pamplin", "Ambrose", ""), "1937-04-07", "58 Andrea Place Milton", "sevenhills 5045"),
            _record("c", "", ("Ambrose", "Pamplyn", ""), "1911-01-01", "3 Milton Andrea Place", "toorak 3142"),
            _record("d", "", ("Kelly", "Grace", ""), "1950-02-02", "9 Jervois Street", "coolaroo 6208"),
            _record("e", "", ("Nolan", "Brett", ""), "1960-03-03", "Jervoisstreet Jervois", "coolaroo 6208"),
            _record("f", "", ("Pamplin", "Ambrose", ""), "1975-05-05", "1 Other Road", "elsewhere 1000")]
    con = _features(rows)
    settings = load_settings()
    by_rule = {}
    for rule in settings["blocking_rules"]:
        if rule["name"].startswith("address_word"):
            pairs.candidates(con, {**settings, "blocking_rules": [rule]})
            by_rule[rule["name"]] = set(con.execute("SELECT l, r FROM cand").fetchall())
            assert con.execute("SELECT count(*) = count(DISTINCT (l, r)) FROM cand").fetchone()[0]
    # a–b share "andrea" and "milton" with "pam"/"amb"; c is swapped: "amb" and "pam" still meet
    assert {(0, 1), (0, 2), (1, 2)} <= by_rule["address_word_name_prefix"]
    assert (3, 4) in by_rule["address_word_municipality"]  # "jervois" in coolaroo 6208
    assert not any(5 in p for r in by_rule.values() for p in r)
    before = pairs.candidates(con, {**settings, "blocking_rules": [r for r in settings["blocking_rules"]
                                                                    if "explode" not in r]})
    assert before < pairs.candidates(con, settings)


def test_a_typo_in_the_surname_beside_initials_or_a_year_only_date_still_blocks():
    """Records of one person whose surname has a typo where the other side gives initials (same birth
    date or same address) or only a birth year (01.01 placeholder) shared no block before (rules on the
    surname need it exact, rules on names need them whole): 28 of the 94 linkable person splits at
    100 k records without SNILS. Each now meets its own record in a block and links; a stranger with
    the same initials and birth date elsewhere does not."""
    from etl.linkage import pairs

    rows = [_record("a1", "", ("Козлова", "Анна", "Петровна"), "1967-12-16", "г. Анна, ул. Мира, д. 62, кв. 32", "20605000"),
            _record("a2", "", ("Кзлова", "А.", "П."), "16.12.1967", "г. Калач, ул. Школьная, д. 46", "20619000"),
            _record("b1", "", ("Гончарова", "Мария", "Дмитриевна"), "1942-06-28", "г. Бобров, ул. Заводская, д. 74", "20609000"),
            _record("b2", "", ("Гончарвоа", "Мария", "Дмитриевна"), "01.01.1942", "", "20609000"),
            _record("c1", "", ("Соболева", "Нелли", "Степановна"), "1970-11-15", "г. Лиски, ул. Полевая, д. 58", "20621000"),
            _record("c2", "", ("Сболева", "Н.", "С."), "", "г. Лиски, ул. Полевая, д. 58", "20621000"),
            _record("x", "", ("Кузина", "Алла", "Павловна"), "1967-12-16", "г. Воронеж, ул. Садовая, д. 7", "20701000")]
    # a street of a town has more residents than a capped address-word block takes
    rows += [_record(f"n{i}", "", (SURNAMES[i], FIRST[i % len(FIRST)], PATRONYMIC[i % len(PATRONYMIC)]),
                     f"19{40 + i}-03-0{1 + i % 9}", f"г. Лиски, ул. Полевая, д. {100 + i}", "20621000") for i in range(12)]
    con = _features(rows)
    settings = load_settings()
    rules = {r["name"]: r for r in settings["blocking_rules"]}
    old = [r for r in settings["blocking_rules"]
           if r["name"] not in ("initials_birth_date", "initials_address",
                                "surname_initial_first_patronymic_year_of_a_partial_date")]
    pairs.candidates(con, {**settings, "blocking_rules": old})
    before = set(con.execute("SELECT l, r FROM cand").fetchall())
    assert not {(0, 1), (2, 3), (4, 5)} & before
    for name, pair in (("initials_birth_date", (0, 1)), ("surname_initial_first_patronymic_year_of_a_partial_date", (2, 3)),
                       ("initials_address", (4, 5))):
        pairs.candidates(con, {**settings, "blocking_rules": [rules[name]]})
        assert pair in set(con.execute("SELECT l, r FROM cand").fetchall()), name
    labels, _, _ = _link(rows)
    assert labels["a1"] == labels["a2"] and labels["b1"] == labels["b2"] and labels["c1"] == labels["c2"]
    assert labels["x"] not in {labels["a1"], labels["b1"], labels["c1"]}


def test_a_training_only_rule_finds_nothing_the_candidates_miss(tmp_path):
    from etl.linkage import pairs

    generated = tmp_path
    generate_people(generated, records=6000, seed=3)
    con = dedup.connect(threads=2)
    con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{generated / 'records.csv'}', all_varchar = true)")
    con.execute("CREATE VIEW linkage_input AS SELECT *, rowid AS ord FROM raw")
    features.build(con)
    settings = load_settings()
    pairs.candidates(con, settings)
    con.execute("CREATE TABLE everything AS SELECT * FROM cand")
    training_only = [r for r in settings["blocking_rules"] if r.get("training_only")]
    assert training_only and all(r["name"] in settings["training"]["em_sessions"] for r in training_only)
    for rule in training_only:
        inside, outside = con.execute(f"""SELECT count(*) FILTER (WHERE e.l IS NOT NULL), count(*) FILTER (WHERE e.l IS NULL)
            FROM rec l JOIN rec r ON {rule['sql']} AND l.rid < r.rid LEFT JOIN everything e ON e.l = l.rid AND e.r = r.rid""").fetchone()
        assert inside > 100 and outside == 0, rule["name"]
