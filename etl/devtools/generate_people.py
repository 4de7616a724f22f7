"""Person records for `ltcreg dedup` and bench/dedup.py: the region's population (etl.devtools.generate) seen
through several sources, each record in the dedup input format, with the noise real registries show.

Writes `records.csv` (the dedup input), `truth.csv` (record_id → person key) and `hard_pairs.csv`
(pairs of different people that look alike: twins, namesakes with different SNILS, spouses, father
and son of the same name).
"""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from etl.devtools.generate import PATRONYMICS, Config, Generator, Person

# Sources: (name, share of records, SNILS missing, name noise)
SOURCES = [("optima", 0.15, 0.03, 0.01), ("smev_application", 0.15, 0.05, 0.03),
           ("health_referral", 0.35, 0.25, 0.06), ("health_event", 0.3, 0.10, 0.02), ("zags", 0.05, 1.0, 0.02)]
RECORDS_PER_PERSON = [(1, 0.35), (2, 0.25), (3, 0.18), (4, 0.12), (5, 0.06), (7, 0.04)]
_CYR_TO_LAT = {"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
               "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
               "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
               "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya"}
FIELDS = ["record_id", "source", "snils", "surname", "first_name", "patronymic", "sex", "birth_date", "address",
          "municipality"]


def to_latin(text: str) -> str:
    out = "".join(_CYR_TO_LAT.get(ch.lower(), ch) for ch in text)
    return out.capitalize()


class PeopleGenerator(Generator):
    def fathers_and_sons(self, share: float = 0.01) -> list[tuple[Person, Person]]:
        """Sons named after their fathers, living with them: the same surname and first name."""
        out = []
        men = [p for p in self.persons if p.sex == "M" and p.first_name in PATRONYMICS]
        for father in self.rng.sample(men, int(len(men) * share)):
            son = self.new_person(sex="M", surname=father.surname,
                                  birth=father.birth_date + dt.timedelta(days=self.rng.randint(20 * 365, 35 * 365)),
                                  address=(father.oktmo, father.address))
            son.first_name = father.first_name
            son.patronymic = PATRONYMICS[father.first_name][0]
            out.append((father, son))
        return out

    def hard_pairs(self) -> list[tuple[str, str, str]]:
        pairs = []
        for a, b in zip(self.persons, self.persons[1:]):
            if a.address == b.address and a.birth_date == b.birth_date and a.surname == b.surname:
                pairs.append(("twins", a.key, b.key))
            elif (a.surname, a.first_name, a.patronymic) == (b.surname, b.first_name, b.patronymic):
                pairs.append(("namesakes", a.key, b.key))
            elif a.address == b.address and a.sex != b.sex:
                pairs.append(("spouses", a.key, b.key))
        return pairs

    snils_coverage: float | None = None  # share of records carrying SNILS, overriding the sources' own

    def namesakes(self, share: float) -> list[tuple[Person, Person]]:
        """Different people of the same full name and birth date living elsewhere, each with a SNILS
        of their own: the hard negatives of a real region, where one record without SNILS fits both."""
        out = []
        for a in self.rng.sample(self.persons, int(len(self.persons) * share)):
            oktmo, address = self.new_address()
            while oktmo == a.oktmo and len(self.munis) > 1:
                oktmo, address = self.new_address()
            b = self.new_person(sex=a.sex, birth=a.birth_date, address=(oktmo, address))
            b.surname, b.first_name, b.patronymic, b.maiden_name = a.surname, a.first_name, a.patronymic, None
            out.append((a, b))
        return out

    def record(self, p: Person, source: tuple) -> dict:
        rng = self.rng
        name, _, snils_missing, noise = source
        on = self.cfg.as_of
        if self.snils_coverage is not None:
            snils_missing = 1 - self.snils_coverage
        d = self.noisy(p, on, snils_missing=snils_missing, noise=noise)
        surname, first, patr = d["surname"], d["first_name"], d["patronymic"]
        r = rng.random()
        if r < 0.01:
            surname, first, patr = to_latin(surname), to_latin(first), to_latin(patr)
        elif r < 0.03:
            first, patr = first[:1] + ".", (patr[:1] + ".") if patr else ""
        snils = d["snils"]
        if snils:
            r = rng.random()
            if r < 0.5:
                snils = f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}"
            elif r < 0.55:
                snils = snils.lstrip("0") + (".0" if rng.random() < 0.5 else "")  # Excel's damage
            elif r < 0.56:
                i = rng.randrange(11)
                snils = snils[:i] + str((int(snils[i]) + rng.randint(1, 9)) % 10) + snils[i + 1:]  # keying error
        b = d["birth_date"]
        r = rng.random()
        if r < 0.01:
            birth = ""
        elif r < 0.02:
            birth = str(b.year)
        elif r < 0.03:
            birth = f"01.01.{b.year}"
        elif r < 0.3:
            birth = b.isoformat()
        else:
            birth = b.strftime("%d.%m.%Y")
        r = rng.random()
        sex = "" if r < 0.1 else rng.choice({"M": ["М", "M", "1", "муж"], "F": ["Ж", "F", "2", "жен"]}[p.sex])
        address, oktmo = d["address"], d["oktmo"]
        r = rng.random()
        if r < 0.2:
            address = ""
        elif r < 0.3:
            oktmo, address = self.new_address()  # moved, or a relative's address
        elif r < 0.5:
            address = (address.replace("г. ", "город ").replace("ул. ", "улица ").replace("д. ", "дом ")
                       .replace("кв. ", "кв."))
        self.counter += 1
        return {"record_id": f"{name}-{self.counter:08d}", "source": name, "snils": snils, "surname": surname,
                "first_name": first, "patronymic": patr, "sex": sex, "birth_date": birth, "address": address,
                "municipality": oktmo}


def generate_people(out: Path, records: int = 100_000, seed: int = 7, as_of: dt.date | None = None,
                    snils_coverage: float | None = None, namesakes: float = 0.0) -> dict:
    """`snils_coverage` (0–1) sets the share of records carrying SNILS; `namesakes` adds that share of
    persons' namesakes (same full name and birth date, another municipality, own SNILS)."""
    mean = sum(k * w for k, w in RECORDS_PER_PERSON)
    persons = max(10, int(records / mean))
    g = PeopleGenerator(Config(persons=persons, seed=seed, **({"as_of": as_of} if as_of else {})))
    g.snils_coverage = snils_coverage
    g.population()
    sons = g.fathers_and_sons()
    hard = g.hard_pairs() + [("father_son", f.key, s.key) for f, s in sons]
    if namesakes:
        twins_in_name = g.namesakes(namesakes)
        hard += [("namesakes_same_birth_date", a.key, b.key) for a, b in twins_in_name]
        # each namesake right after its twin in name, so both get records before the count runs out
        after = {a.key: b for a, b in twins_in_name}
        planted = {b.key for b in after.values()}
        g.persons = [x for p in g.persons if p.key not in planted for x in ([p, after[p.key]] if p.key in after else [p])]
    rng = g.rng
    out.mkdir(parents=True, exist_ok=True)
    sizes, weights = zip(*RECORDS_PER_PERSON)
    src_weights = [s[1] for s in SOURCES]
    rows, truth = [], []
    for p in g.persons:
        for _ in range(rng.choices(sizes, weights)[0]):
            rec = g.record(p, rng.choices(SOURCES, src_weights)[0])
            rows.append(rec)
            truth.append((rec["record_id"], p.key))
            if len(rows) >= records:
                break
        if len(rows) >= records:
            break
    order = list(range(len(rows)))
    rng.shuffle(order)  # sources arrive interleaved, not person by person
    with open(out / "records.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows(rows[i] for i in order)
    with open(out / "truth.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "person_key"])
        w.writerows(truth)
    with open(out / "hard_pairs.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "person_a", "person_b"])
        w.writerows(hard)
    return {"records": len(rows), "persons": len({t[1] for t in truth}), "hard_pairs": len(hard)}
