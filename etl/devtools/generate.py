"""Synthetic region for demos, tests and benchmarks (`ltcreg generate`).

Persons aged 55–100 with Russian names, valid SNILS and addresses in the region's municipalities;
each source is written in its own format with realistic noise, plus `truth.csv` mapping every
person-bearing source record to its true person. Same seed → byte-identical output: one seeded
RNG, no clock, fixed timestamps inside ZIP files.

Care rules (package caps by level) are read from the same seed files as the database reference
tables, so generated packages honour whatever rules are in force.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import random
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from etl.base.normalize import format_snils, snils_checksum

SEEDS = Path(__file__).resolve().parents[2] / "sql" / "seeds"

MALE_FIRST = ["Александр", "Алексей", "Анатолий", "Андрей", "Борис", "Валентин", "Валерий", "Василий",
              "Виктор", "Владимир", "Вячеслав", "Геннадий", "Георгий", "Григорий", "Дмитрий", "Евгений",
              "Иван", "Игорь", "Леонид", "Михаил", "Николай", "Олег", "Павел", "Пётр", "Семён", "Сергей",
              "Станислав", "Степан", "Фёдор", "Юрий", "Яков", "Аркадий", "Эдуард", "Лев", "Тимофей"]
FEMALE_FIRST = ["Александра", "Алла", "Анна", "Антонина", "Валентина", "Вера", "Галина", "Дарья",
                "Евгения", "Екатерина", "Елена", "Зинаида", "Зоя", "Клавдия", "Лариса", "Лидия",
                "Любовь", "Людмила", "Мария", "Надежда", "Наталья", "Нина", "Ольга", "Раиса",
                "Светлана", "Таисия", "Тамара", "Татьяна", "Фаина", "Алёна", "Юлия", "Ирина", "Нелли"]
# Father's name → (male patronymic, female patronymic)
PATRONYMICS = {
    "Александр": ("Александрович", "Александровна"), "Алексей": ("Алексеевич", "Алексеевна"),
    "Андрей": ("Андреевич", "Андреевна"), "Борис": ("Борисович", "Борисовна"),
    "Василий": ("Васильевич", "Васильевна"), "Виктор": ("Викторович", "Викторовна"),
    "Владимир": ("Владимирович", "Владимировна"), "Григорий": ("Григорьевич", "Григорьевна"),
    "Дмитрий": ("Дмитриевич", "Дмитриевна"), "Иван": ("Иванович", "Ивановна"),
    "Илья": ("Ильич", "Ильинична"), "Кузьма": ("Кузьмич", "Кузьминична"),
    "Михаил": ("Михайлович", "Михайловна"), "Николай": ("Николаевич", "Николаевна"),
    "Павел": ("Павлович", "Павловна"), "Пётр": ("Петрович", "Петровна"),
    "Семён": ("Семёнович", "Семёновна"), "Сергей": ("Сергеевич", "Сергеевна"),
    "Степан": ("Степанович", "Степановна"), "Фёдор": ("Фёдорович", "Фёдоровна"),
    "Яков": ("Яковлевич", "Яковлевна"), "Егор": ("Егорович", "Егоровна"),
    "Тимофей": ("Тимофеевич", "Тимофеевна"), "Максим": ("Максимович", "Максимовна"),
}
SURNAMES = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
            "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
            "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
            "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв",
            "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв",
            "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Ковалёв", "Белов", "Медведев",
            "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов", "Комаров", "Давыдов", "Беляев",
            "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов", "Марков", "Миронов",
            "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов", "Гаврилов", "Тихонов",
            "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев", "Фомин", "Чернов", "Абрамов",
            "Мартынов", "Ефимов", "Федотов", "Щербаков", "Назаров", "Калинин", "Исаев", "Чернышёв",
            "Быков", "Маслов", "Родионов", "Коновалов", "Лазарев", "Воронин", "Климов", "Филатов",
            "Пономарёв", "Голубев", "Кудрявцев", "Прохоров", "Наумов", "Потапов", "Журавлёв",
            "Овчинников", "Трофимов", "Леонов", "Соболев", "Ермаков", "Колесников", "Гончаров",
            "Емельянов", "Никифоров", "Грачёв", "Котов", "Гришин", "Ефремов", "Архипов", "Громов",
            "Кириллов", "Малышев", "Панов", "Моисеев", "Румянцев", "Акимов", "Кондратьев", "Бирюков",
            "Горбунов", "Анисимов", "Ерёмин", "Тихомиров", "Галкин", "Лукьянов", "Михеев", "Скворцов",
            "Юдин", "Белоусов", "Нестеров", "Симонов", "Прокофьев", "Харитонов", "Князев", "Цветков",
            "Левин", "Митрофанов", "Воронов", "Аксёнов", "Софронов", "Мальцев", "Логинов", "Горшков",
            "Савин", "Краснов", "Майоров", "Демидов", "Елисеев", "Рыбаков", "Сафонов", "Плотников",
            "Лавров", "Жданов", "Дьячков", "Островский", "Покровский", "Вознесенский", "Трубецкой"]
STREETS = ["Ленина", "Мира", "Советская", "Садовая", "Школьная", "Молодёжная", "Лесная", "Центральная",
           "Победы", "Гагарина", "Кирова", "Пушкина", "Первомайская", "Набережная", "Чехова",
           "Заводская", "Комсомольская", "Полевая", "Степная", "Южная"]
CHANNELS = {  # code → label in the referral extract
    "dispensary": "диспансеризация", "doctor_visit": "прием врача",
    "hospital_discharge": "выписка из стационара", "mse": "МСЭ", "other": "иное",
}
PROVIDERS = 12  # PRV001…PRV012: the first half state institutions (КЦСОН), the others non-state
ICD_COMMON = ["I63.9", "I69.4", "G30.9", "F03", "I50.0", "M16.0", "E11.9", "C50.9", "G20", "I11.9",
              "J44.9", "N18.5", "S72.0", "H54.0"]
LEVEL_WEIGHTS = [(1, 0.02), (2, 0.30), (3, 0.68)]  # regional roadmaps plan e.g. 5 / 75 / 170


def load_municipalities() -> list[dict]:
    with open(SEEDS / "municipality.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_package_rules() -> list[dict]:
    with open(SEEDS / "care_package_rule.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["care_level"] = int(r["care_level"])
        r["max_minutes_per_week"] = int(r["max_minutes_per_week"])
        r["valid_from"] = dt.date.fromisoformat(r["valid_from"])
        r["valid_to"] = dt.date.fromisoformat(r["valid_to"]) if r["valid_to"] else None
    return rows


def _in_force(row: dict, on: dt.date) -> bool:
    return dt.date.fromisoformat(row["valid_from"]) <= on and (not row["valid_to"]
                                                                or on <= dt.date.fromisoformat(row["valid_to"]))


def load_seed(name: str) -> list[dict]:
    with open(SEEDS / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def inn_with_checksum(body9: str) -> str:
    """A 10-digit organisation ИНН from 9 digits (its check digit: etl.base.normalize.inn_is_valid)."""
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    return body9 + str(sum(w * int(d) for w, d in zip(weights, body9)) % 11 % 10)


def package_cap(rules: list[dict], level: int, on: dt.date) -> int:
    for r in rules:
        if r["care_level"] == level and r["valid_from"] <= on and (r["valid_to"] is None or on <= r["valid_to"]):
            return r["max_minutes_per_week"]
    raise LookupError(f"no package rule for level {level} on {on}")


def female_surname(surname: str) -> str:
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    if surname.endswith("ский"):
        return surname[:-4] + "ская"
    if surname.endswith("ой"):
        return surname[:-2] + "ая"
    return surname


@dataclass
class Person:
    key: str
    sex: str
    surname: str
    first_name: str
    patronymic: str
    birth_date: dt.date
    snils: str
    oktmo: str
    address: str
    phone: str
    maiden_name: str | None = None
    death_date: dt.date | None = None
    events: list = field(default_factory=list)


@dataclass
class Config:
    persons: int = 2000
    seed: int = 42
    as_of: dt.date = dt.date(2025, 12, 31)
    start: dt.date = dt.date(2024, 1, 1)


def month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    return dt.date(d.year + y, m + 1, 1)


def days_in_month(d: dt.date) -> int:
    return (add_months(d, 1) - month_start(d)).days


AIDS = ["functional_bed", "wheelchair", "walker", "anti_decubitus_mattress", "toilet_chair", "bath_seat"]


def _iso(d: dt.date | None) -> str:
    return d.isoformat() if d else ""


class Generator:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.munis = load_municipalities()
        self.rules = load_package_rules()
        # the care model's own draws (services, schedules, ИППСУ, providers) come from a stream of their own,
        # so adding them left every earlier draw — persons, pathways, figures — as it was
        self.care_rng = random.Random(f"care-model-{cfg.seed}")
        self.catalogue = load_seed("care_service.csv")
        self.schedules = load_seed("care_schedule_limit.csv")
        self.residential = [r for r in load_seed("care_rule.csv") if r["rule"] == "residential_offer_minutes_per_week"]
        self.used_snils: set[str] = set()
        self.truth: list[tuple[str, str, str, str]] = []  # (source, entity, natural id, person key)
        self.counter = 0
        # Natural ids carry the data set's tag, so regions generated with other seeds or sizes can be
        # loaded into the same database without their ids colliding.
        self.tag = f"{cfg.seed}-{cfg.persons}"

    # ---- helpers ------------------------------------------------------------------------------
    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def seq(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.tag}-{self.counter:07d}"

    def new_snils(self) -> str:
        while True:
            body = f"{self.rng.randint(2_000_000, 999_999_999):09d}"
            snils = body + snils_checksum(body)
            if snils not in self.used_snils:
                self.used_snils.add(snils)
                return snils

    def date_between(self, a: dt.date, b: dt.date) -> dt.date:
        if b <= a:
            return a
        return a + dt.timedelta(days=self.rng.randint(0, (b - a).days))

    def new_address(self) -> tuple[str, str]:
        m = self.rng.choice(self.munis)
        addr = (f"г. {m['center']}, ул. {self.rng.choice(STREETS)}, д. {self.rng.randint(1, 120)}"
                + (f", кв. {self.rng.randint(1, 200)}" if self.rng.random() < 0.7 else ""))
        return m["oktmo"], addr

    def new_person(self, sex: str | None = None, surname: str | None = None, birth: dt.date | None = None,
                   address: tuple[str, str] | None = None) -> Person:
        rng = self.rng
        sex = sex or ("F" if rng.random() < 0.62 else "M")  # women live longer
        base = surname or rng.choice(SURNAMES)
        father = rng.choice(list(PATRONYMICS))
        if birth is None:
            # ages 55–100, skewed young as in the real population of that age
            age_days = int(55 * 365.25 + 45 * 365.25 * rng.random() ** 1.6)
            birth = self.cfg.as_of - dt.timedelta(days=age_days)
        oktmo, addr = address or self.new_address()
        p = Person(
            key=f"P{len(self.persons) + 1:07d}", sex=sex,
            surname=base if sex == "M" else female_surname(base),
            first_name=rng.choice(MALE_FIRST if sex == "M" else FEMALE_FIRST),
            patronymic=PATRONYMICS[father][0 if sex == "M" else 1],
            birth_date=birth, snils=self.new_snils(), oktmo=oktmo, address=addr,
            phone=f"+79{rng.randint(0, 999_999_999):09d}",
        )
        if sex == "F" and rng.random() < 0.5:
            p.maiden_name = female_surname(rng.choice(SURNAMES))
        self.persons.append(p)
        return p

    # ---- population ---------------------------------------------------------------------------
    def population(self) -> None:
        self.persons: list[Person] = []
        rng = self.rng
        while len(self.persons) < self.cfg.persons:
            r = rng.random()
            if r < 0.12 and len(self.persons) + 2 <= self.cfg.persons:  # spouses sharing an address
                husband = self.new_person(sex="M")
                self.new_person(sex="F", surname=husband.surname, address=(husband.oktmo, husband.address))
            elif r < 0.13 and len(self.persons) + 2 <= self.cfg.persons:  # twins
                a = self.new_person()
                b = self.new_person(sex=a.sex, surname=None, birth=a.birth_date, address=(a.oktmo, a.address))
                b.surname, b.patronymic = a.surname, a.patronymic
                while b.first_name == a.first_name:
                    b.first_name = rng.choice(MALE_FIRST if b.sex == "M" else FEMALE_FIRST)
            elif r < 0.14 and len(self.persons) + 2 <= self.cfg.persons:  # namesakes, different people
                a = self.new_person()
                b = self.new_person(sex=a.sex)
                b.surname, b.first_name, b.patronymic = a.surname, a.first_name, a.patronymic
            else:
                self.new_person()
        for p in self.persons:  # deaths in the population over the window
            if rng.random() < 0.06:
                p.death_date = self.date_between(self.cfg.start, self.cfg.as_of)

    # ---- noise --------------------------------------------------------------------------------
    def typo(self, s: str) -> str:
        if len(s) < 3:
            return s
        i = self.rng.randint(1, len(s) - 1)
        op = self.rng.random()
        if op < 0.4:
            return s[:i] + self.rng.choice("аеиоулнрст") + s[i + 1:]
        if op < 0.7 and i < len(s) - 1:
            return s[:i] + s[i + 1] + s[i] + s[i + 2:]
        return s[:i] + s[i + 1:]

    def noisy(self, p: Person, on: dt.date, snils_missing: float, noise: float) -> dict:
        rng = self.rng
        surname = p.surname
        if p.maiden_name and rng.random() < noise * 2:
            surname = p.maiden_name  # a source that still knows her by her maiden name
        first, patr = p.first_name, p.patronymic
        if rng.random() < noise:
            surname = self.typo(surname)
        if rng.random() < noise / 2:
            first = self.typo(first)
        if rng.random() < 0.5:  # ё is optional in Russian writing
            surname, first, patr = (x.replace("ё", "е") for x in (surname, first, patr))
        if rng.random() < noise:
            patr = ""
        if rng.random() < 0.1:
            surname, first, patr = surname.upper(), first.upper(), patr.upper()
        birth = p.birth_date
        if rng.random() < noise / 2 and birth.day <= 12 and birth.day != birth.month:
            birth = birth.replace(day=birth.month, month=birth.day)
        return {
            "surname": surname, "first_name": first, "patronymic": patr, "sex": p.sex, "birth_date": birth,
            "snils": "" if rng.random() < snils_missing else p.snils,
            "address": p.address, "oktmo": p.oktmo, "phone": p.phone,
        }

    # ---- the care pathway -----------------------------------------------------------------------
    def pathway(self) -> None:
        """Identification → assessment → supplement → monthly reports, deaths and refusals."""
        rng, cfg = self.rng, self.cfg
        self.referrals, self.applications, self.recipients = [], [], []
        self.assessments, self.supplements, self.reports, self.events = [], [], [], []
        horizon_end = cfg.as_of - dt.timedelta(days=20)
        for p in self.persons:
            alive_until = p.death_date or cfg.as_of
            if rng.random() >= 0.55 or alive_until <= cfg.start + dt.timedelta(days=30):
                continue
            identified = self.date_between(cfg.start, min(alive_until, horizon_end))
            channel = None
            if rng.random() < 0.75:
                channel = rng.choice(list(CHANNELS))
                self.referrals.append((p, identified, channel))
                if rng.random() < 0.1:  # a second medical organisation refers the same person
                    self.referrals.append((p, identified + dt.timedelta(days=rng.randint(1, 60)),
                                           rng.choice(list(CHANNELS))))
            if channel is None or rng.random() < 0.15:
                self.applications.append((p, identified + dt.timedelta(days=rng.randint(0, 10))))
            status, exit_reason, status_date = "identified", None, identified
            rec = {"person": p, "recipient_id": self.seq("R"), "identified": identified,
                   "channel": channel or "epgu"}
            self.recipients.append(rec)
            assessed = identified + dt.timedelta(days=rng.randint(3, 45))
            if rng.random() < 0.85 and assessed < alive_until and assessed <= cfg.as_of:
                level = rng.choices([lv for lv, _ in LEVEL_WEIGHTS], [w for _, w in LEVEL_WEIGHTS])[0]
                needs = rng.random() < 0.85
                status, status_date = "assessed", assessed
                current = assessed
                while current <= cfg.as_of and current < alive_until:
                    a_id = self.seq("A")
                    self.assessments.append({"assessment_id": a_id, "recipient_id": rec["recipient_id"],
                                             "date": current, "level": level if needs else None,
                                             "points": round(rng.uniform(5, 90), 2)})
                    if not needs:
                        status = "not_needing"
                        break
                    start = current + dt.timedelta(days=rng.randint(2, 20))
                    if start > cfg.as_of or start >= alive_until:
                        break
                    cap = package_cap(self.rules, level, start)
                    minutes = max(60, min(cap, int(cap * rng.uniform(0.5, 1.0)) // 30 * 30))
                    next_assessment = current + dt.timedelta(days=rng.randint(330, 365))
                    end = next_assessment - dt.timedelta(days=1)
                    refused = rng.random() < 0.04
                    if refused:
                        end = start + dt.timedelta(days=rng.randint(30, 200))
                    if p.death_date and p.death_date <= end:
                        end = p.death_date
                    s_id = self.seq("S")
                    sup = {"supplement_id": s_id, "recipient_id": rec["recipient_id"], "assessment_id": a_id,
                           "level": level, "minutes": minutes, "start": start,
                           "end": end,  # a date after the data's end is the planned one (the reassessment)
                           "provider": f"PRV{rng.randint(1, PROVIDERS):03d}"}
                    self.care_plan(sup, cap, current)
                    self.supplements.append(sup)
                    status, status_date = "receiving", start
                    self.monthly_reports(sup, min(end, cfg.as_of))
                    self.medical_events(p, start, min(end, cfg.as_of))
                    if p.death_date and end == p.death_date and self.care_rng.random() < 0.05:
                        sup["end"] = None  # ЕИС never closed it: the care stopped, the supplement did not
                    if refused and end <= cfg.as_of:
                        status, exit_reason, status_date = "exited", "refusal", end
                        break
                    if p.death_date and p.death_date <= cfg.as_of and end == p.death_date:
                        break
                    current = next_assessment
                    if rng.random() < 0.3:
                        level = min(3, level + 1)
            if p.death_date and p.death_date <= cfg.as_of:
                status, exit_reason, status_date = "exited", "death", p.death_date
            rec.update(status=status, exit_reason=exit_reason, status_date=status_date)

    def care_plan(self, sup: dict, cap: int, assessed: dt.date) -> None:
        """The ИППСУ a supplement belongs to, its schedule and care services (catalogue in force on its
        start, a schedule its level allows, standard minutes within the cap), and the need as assessed:
        one in twenty of level 3 needs more than a home package gives and is offered residential care."""
        rng, start, level = self.care_rng, sup["start"], sup["level"]
        allowed = [s for s in self.schedules if int(s["care_level"]) == level and _in_force(s, start)]
        limit = rng.choice(allowed)
        visits = rng.randint(1, int(limit["max_visits_per_day"]))
        days = rng.randint(int(limit["min_days_per_week"]), int(limit["max_days_per_week"]))
        catalogue = [c for c in self.catalogue if _in_force(c, start)]
        budget = min(sup["minutes"], cap) // (visits * days)  # standard minutes a visit may hold
        services = []
        for c in rng.sample(catalogue, len(catalogue)):
            if len(services) == 4:  # a package names the few services the person needs (and reports stay few)
                break
            if int(c["standard_minutes"]) <= budget:
                services.append(c["code"])
                budget -= int(c["standard_minutes"])
        if not services:  # the shortest service once a visit (the cap's schedule always holds one)
            services = [min(catalogue, key=lambda c: int(c["standard_minutes"]))["code"]]
        sup["services"] = [(code, visits, days) for code in services]
        sup["ippsu"] = f"I-{sup['assessment_id']}"
        sup["ippsu_number"] = f"{rng.randint(1, 99999):05d}/{sup['start'].year % 100:02d}"  # ЕГИССО: at most 10
        sup["ippsu_issued"] = min(assessed + dt.timedelta(days=rng.randint(1, 10)), start)
        offer = [int(r["value"]) for r in self.residential if _in_force(r, start)]
        sup["need"] = (offer[0] + rng.choice([60, 120, 240]) if offer and level == 3 and rng.random() < 0.05
                       else sup["minutes"])
        sup["residential_offered"] = bool(offer) and sup["need"] > offer[0]

    def monthly_reports(self, sup: dict, last_day: dt.date) -> None:
        rng = self.rng
        m = month_start(sup["start"])
        assistant = f"CA{rng.randint(1, 400):04d}"
        under = rng.random() < 0.03
        # one supplement in fifty still in force at the data's end has no report of its last month yet
        late = last_day == self.cfg.as_of and self.care_rng.random() < 0.02
        while m <= last_day:
            first = max(m, sup["start"])
            last = min(add_months(m, 1) - dt.timedelta(days=1), last_day)
            days = (last - first).days + 1
            due = sup["minutes"] * days / 7
            delivered_total = due * (rng.uniform(0.6, 0.9) if under else rng.uniform(1.0, 1.05))
            if late and m == month_start(last_day):
                break  # (after the month's draw: the draws of everything else stay as they were)
            for code, share in self.service_shares(sup):
                self.reports.append({"report_id": self.seq("CR"), "supplement_id": sup["supplement_id"],
                                     "recipient_id": sup["recipient_id"], "month": m, "service": code,
                                     "minutes": int(round(delivered_total * share)), "assistant": assistant})
            m = add_months(m, 1)

    def service_shares(self, sup: dict) -> list[tuple[str, float]]:
        """The supplement's services with their share of its weekly minutes (what a report splits)."""
        minutes = {c["code"]: int(c["standard_minutes"]) for c in self.catalogue}
        weights = [(code, minutes[code] * visits * days) for code, visits, days in sup["services"]]
        total = sum(w for _, w in weights)
        return [(code, w / total) for code, w in weights]

    def medical_events(self, p: Person, start: dt.date, end: dt.date) -> None:
        rng = self.rng
        years = max((end - start).days, 0) / 365.25
        for kind, rate in (("hospitalisation", 0.35), ("ambulance", 0.7), ("outpatient", 3.0), ("day_hospital", 0.1)):
            for _ in range(sum(1 for _ in range(12) if rng.random() < rate * years / 12)):
                d = self.date_between(start, end)
                stay = rng.randint(3, 15) if kind == "hospitalisation" else (rng.randint(5, 10) if kind == "day_hospital" else 0)
                self.events.append((p, kind, d, d + dt.timedelta(days=stay), rng.choice(ICD_COMMON)))

    # ---- writers ------------------------------------------------------------------------------
    def write(self, out: Path) -> dict:
        out.mkdir(parents=True, exist_ok=True)
        for sub in ("health", "smev", "optima"):
            (out / sub).mkdir(exist_ok=True)
        counts = {
            "health_referral": self.write_referrals(out / "health"),
            "health_medical_event": self.write_medical_events(out / "health"),
            "smev_application": self.write_applications(out / "smev"),
            "smev_death": self.write_deaths(out / "smev"),
            "smev_foreign": self.write_foreign(out / "smev"),
        }
        counts.update(self.write_optima(out / "optima"))
        with open(out / "truth.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["source", "entity", "natural_id", "person_key"])
            w.writerows(self.truth)
        counts["persons"] = len(self.persons)
        return counts

    def write_referrals(self, folder: Path) -> int:
        header = ["КодМО", "НомерНаправления", "ДатаНаправления", "КаналВыявления", "СНИЛС", "ЕНП", "Фамилия",
                  "Имя", "Отчество", "Пол", "ДатаРождения", "Адрес", "ОКТМО", "Телефон", "ДиагнозМКБ",
                  "СогласиеНаРазглашение", "ДатаСогласия"]
        by_mo: dict[str, list] = {}
        rng = self.rng
        for p, when, channel in sorted(self.referrals, key=lambda r: (r[1], r[0].key)):
            mo = f"36{rng.randint(1, 8):04d}"
            d = self.noisy(p, when, snils_missing=0.25, noise=0.06)
            snils = d["snils"]
            if snils:
                style = rng.random()
                if style < 0.6:
                    snils = format_snils(snils)
                elif style < 0.7 and snils.startswith("0"):
                    snils = snils.lstrip("0")  # Excel dropped the leading zeros
            consent = rng.random() < 0.9
            ref_id = f"{mo}-{self.tag}-{len(self.truth) + 1:08d}"
            birth = d["birth_date"].strftime("%d.%m.%Y")
            if rng.random() < 0.01:  # what operators really type: impossible dates, dates in text
                birth = rng.choice([f"31.02.{d['birth_date'].year}", "н/д", f"{d['birth_date'].year}"])
            by_mo.setdefault(mo, []).append([
                mo, ref_id, when.strftime("%d.%m.%Y"), CHANNELS[channel], snils, "", d["surname"], d["first_name"],
                d["patronymic"], "М" if d["sex"] == "M" else "Ж", birth,
                d["address"], d["oktmo"], d["phone"], ", ".join(rng.sample(ICD_COMMON, rng.randint(1, 2))),
                "да" if consent else "нет",
                (when - dt.timedelta(days=rng.randint(0, 5))).strftime("%d.%m.%Y") if consent else "",
            ])
            self.truth.append(("health", "health_referral", ref_id, p.key))
        n = 0
        for mo in sorted(by_mo):
            with open(folder / f"referrals_{mo}.csv", "w", encoding="cp1251", errors="replace", newline="") as f:
                w = csv.writer(f, delimiter=";", lineterminator="\r\n")
                w.writerow(header)
                w.writerows(by_mo[mo])
                n += len(by_mo[mo])
        return n

    def write_medical_events(self, folder: Path) -> int:
        header = ["КодМО", "НомерСлучая", "ВидСобытия", "ДатаНачала", "ДатаОкончания", "ДиагнозМКБ", "СНИЛС",
                  "ЕНП", "Фамилия", "Имя", "Отчество", "Пол", "ДатаРождения", "ОКТМО"]
        kinds = {"hospitalisation": "госпитализация", "day_hospital": "дневной стационар",
                 "outpatient": "амбулаторное посещение", "ambulance": "вызов скорой помощи"}
        rows = []
        for i, (p, kind, start, end, icd) in enumerate(sorted(self.events, key=lambda e: (e[2], e[0].key, e[1])), 1):
            d = self.noisy(p, start, snils_missing=0.1, noise=0.02)
            event_id = f"EV{self.tag}-{i:08d}"
            rows.append([f"36{self.rng.randint(1, 8):04d}", event_id, kinds[kind], start.strftime("%d.%m.%Y"),
                         end.strftime("%d.%m.%Y") if end != start else "", icd,
                         format_snils(d["snils"]) if d["snils"] else "", "", d["surname"], d["first_name"],
                         d["patronymic"], "М" if d["sex"] == "M" else "Ж", d["birth_date"].strftime("%d.%m.%Y"),
                         d["oktmo"]])
            self.truth.append(("health", "health_medical_event", event_id, p.key))
        with open(folder / "medical_events.csv", "w", encoding="cp1251", errors="replace", newline="") as f:
            w = csv.writer(f, delimiter=";", lineterminator="\r\n")
            w.writerow(header)
            w.writerows(rows)
        return len(rows)

    def write_applications(self, folder: Path) -> int:
        n = 0
        for p, when in sorted(self.applications, key=lambda a: (a[1], a[0].key)):
            d = self.noisy(p, when, snils_missing=0.05, noise=0.03)
            msg_id, order_uuid = self.uid(), self.uid()
            snils = f"<ord:snils>{d['snils']}</ord:snils>" if d["snils"] else ""
            patr = f"<b:patronymic>{escape(d['patronymic'])}</b:patronymic>" if d["patronymic"] else ""
            payload = f"""<req:request xmlns:req="urn://egisso-ru/msg/10.44.I/1.0.0" xmlns:pac="urn://egisso-ru/types/package-order-request/1.0.0" xmlns:ord="urn://egisso-ru/types/order-request/1.0.0" xmlns:b="urn://egisso-ru/types/basic/2.1.0">
<pac:package><pac:packageId>{self.uid()}</pac:packageId><pac:elements><pac:orderRequest>
<ord:orderUuid>{order_uuid}</ord:orderUuid>
<ord:recipient>{snils}<ord:fio><b:surname>{escape(d['surname'])}</b:surname>{patr}<b:forename>{escape(d['first_name'])}</b:forename></ord:fio>
<ord:birthDate>{d['birth_date'].isoformat()}</ord:birthDate><ord:gender>{d['sex']}</ord:gender><ord:citizenship>643</ord:citizenship>
<ord:factAddress><b:fullAddress>{escape(d['address'])}</b:fullAddress><ord:factAddressOktmo><ord:factAddressOktmo8>{d['oktmo']}</ord:factAddressOktmo8></ord:factAddressOktmo></ord:factAddress>
<ord:phoneNumber>{d['phone'][2:]}</ord:phoneNumber></ord:recipient>
<ord:request><ord:osznName>Управление социальной защиты населения</ord:osznName><ord:orderNumber>{self.rng.randint(10**8, 10**9 - 1)}</ord:orderNumber><ord:orderDate>{when.isoformat()}</ord:orderDate></ord:request>
<ord:livingConditions><ord:lifeState>нуждается в постороннем уходе</ord:lifeState></ord:livingConditions>
<ord:wishful><ord:wishfulCareForm>на дому</ord:wishfulCareForm></ord:wishful>
</pac:orderRequest></pac:elements></pac:package></req:request>"""
            (folder / f"application_{msg_id}.xml").write_text(
                smev_envelope("1.2", msg_id, f"{when.isoformat()}T10:00:00.000+03:00", "EPGU01", payload),
                encoding="utf-8")
            self.truth.append(("smev", "smev_application", order_uuid, p.key))
            n += 1
        return n

    def write_foreign(self, folder: Path) -> int:
        """A message of another service routed to us by mistake: it must land in quarantine, whole."""
        msg_id = self.uid()
        payload = ('<inn:FNSINNSingularRequest xmlns:inn="urn://x-artefacts-fns-inn-singular/root/310-41/4.0.1">'
                   '<inn:СведФЛ><inn:ФИО Фамилия="Тестов" Имя="Тест"/></inn:СведФЛ></inn:FNSINNSingularRequest>')
        (folder / f"foreign_{msg_id}.xml").write_text(
            smev_envelope("1.3", msg_id, f"{self.cfg.as_of}T12:00:00.000+03:00", "FNS001", payload), encoding="utf-8")
        return 1

    def write_deaths(self, folder: Path) -> int:
        dead = sorted((p for p in self.persons if p.death_date and p.death_date <= self.cfg.as_of),
                      key=lambda p: (p.death_date, p.key))
        n = 0
        for i in range(0, len(dead), 5):  # ЗАГС sends registries of several records
            msg_id = self.uid()
            records = []
            for p in dead[i:i + 5]:
                d = self.noisy(p, p.death_date, snils_missing=1.0, noise=0.02)
                number = f"{self.rng.randint(10**20, 10**21 - 1)}"
                rec_date = p.death_date + dt.timedelta(days=self.rng.randint(0, 3))
                patr = (f"<ns2:Отчество>{escape(d['patronymic'])}</ns2:Отчество>" if d["patronymic"]
                        else "<ns2:ПрОтчество>1</ns2:ПрОтчество>")
                if self.rng.random() < 0.1:  # documents with only month and year of birth
                    birth = (f"<ns1:ДатаРождДок><ns2:ПрДень>1</ns2:ПрДень><ns2:Месяц>{d['birth_date'].month:02d}</ns2:Месяц>"
                             f"<ns2:Год>{d['birth_date'].year}</ns2:Год></ns1:ДатаРождДок>")
                else:
                    birth = f"<ns1:ДатаРождКаленд>{d['birth_date'].isoformat()}</ns1:ДатаРождКаленд>"
                records.append(f"""<ns1:СведРегСмертОИВ ДатаВерс="{rec_date}" ДатаЗапис="{rec_date}" НомерВерс="1" НомерЗапис="{number}">
<ns1:ОрганЗАГС КодЗАГС="R3600000" НаимЗАГС="Управление ЗАГС"/>
<ns1:СтатусЗаписи ДатаНачСтатус="{rec_date}" КодСтатус="01" НаимСтатус="запись акта первичная"/>
<ns1:ПрдСведРег><ns1:СведУмер Пол="{1 if p.sex == 'M' else 2}"><ns1:ФИОУмер><ns2:Фамилия>{escape(d['surname'])}</ns2:Фамилия><ns2:Имя>{escape(d['first_name'])}</ns2:Имя>{patr}</ns1:ФИОУмер>
{birth}
<ns1:АдрМЖ><ns2:АдрМЖРФ АдрРФТекст="{escape(d['address'])}" ПрТипАдрРФ="1"/></ns1:АдрМЖ>
<ns1:ДатаСмертКаленд>{p.death_date.isoformat()}</ns1:ДатаСмертКаленд></ns1:СведУмер></ns1:ПрдСведРег>
</ns1:СведРегСмертОИВ>""")
                self.truth.append(("smev", "smev_death", number, p.key))
                n += 1
            sent = dead[min(i + 4, len(dead) - 1)].death_date + dt.timedelta(days=4)
            payload = f"""<ns1:Request xmlns:ns1="urn://x-artefacts-zags-fataloiv/root/112-41/4.0.0" xmlns:directive="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/directive/1.3" xmlns:ns2="urn://x-artefacts-zags-fataloiv/types/4.0.0">
<directive:Registry><directive:RegistryRecord><directive:RecordId>{i // 5 + 1}</directive:RecordId><directive:Record Id="ID_1"><directive:RecordContent Id="ID_2">
<ns1:FATALOIVRequest ДатаСвед="{sent}" ИдСвед="{msg_id}">
{chr(10).join(records)}
</ns1:FATALOIVRequest></directive:RecordContent></directive:Record></directive:RegistryRecord></directive:Registry></ns1:Request>"""
            (folder / f"death_{msg_id}.xml").write_text(
                smev_envelope("1.1", msg_id, f"{sent}T09:00:00.000+03:00", "ZAGS01", payload, request=True),
                encoding="utf-8")
        return n

    def optima_operations(self) -> dict:
        """Contracts, staff, rental points and care schools of the LTC system (OPTIMA tables)."""
        rng, cfg = self.rng, self.cfg
        by_recipient = {r["recipient_id"]: r for r in self.recipients}
        contracts = []
        for s in self.supplements:
            signed = s["start"] - dt.timedelta(days=rng.randint(0, 5))
            contracts.append([f"C-{s['supplement_id']}", s["recipient_id"], s["supplement_id"], s["provider"],
                              _iso(signed), _iso(s["start"]), _iso(s["end"])])
        staff = []
        assistants = sorted({r["assistant"] for r in self.reports})
        receiving = [r for r in self.recipients if r["status"] in ("receiving", "exited")]
        for sid in assistants:
            hired = self.date_between(dt.date(2021, 1, 1), cfg.start + dt.timedelta(days=200))
            left = self.date_between(hired + dt.timedelta(days=90), cfg.as_of) if rng.random() < 0.15 else None
            relative = rng.random() < 0.2 and bool(receiving)
            staff.append([sid, "care_assistant", f"PRV{rng.randint(1, 12):03d}", rng.choice(self.munis)["oktmo"],
                          _iso(hired), _iso(left), "да" if relative else "нет",
                          rng.choice(receiving)["recipient_id"] if relative else "",
                          "да" if rng.random() < 0.4 else "нет",
                          ("да" if rng.random() < 0.6 else "нет") if relative else ""])
        for role, prefix, n in (("care_organiser", "OR", max(2, len(assistants) // 10)),
                                ("needs_expert", "EX", max(2, len(assistants) // 20))):
            for i in range(1, n + 1):
                hired = self.date_between(dt.date(2020, 1, 1), cfg.as_of - dt.timedelta(days=30))
                left = self.date_between(hired + dt.timedelta(days=60), cfg.as_of) if rng.random() < 0.1 else None
                staff.append([f"{prefix}{i:03d}", role, f"PRV{rng.randint(1, 12):03d}", rng.choice(self.munis)["oktmo"],
                              _iso(hired), _iso(left), "нет", "", "", ""])
        rentals, trainings = [], []
        for s in self.supplements:
            rec = by_recipient[s["recipient_id"]]
            oktmo = rec["person"].oktmo
            if rng.random() < 0.25:
                requested = s["start"] + dt.timedelta(days=rng.randint(0, 30))
                if requested <= cfg.as_of:
                    issued = requested + dt.timedelta(days=rng.randint(0, 25))
                    issued = issued if issued <= cfg.as_of and rng.random() < 0.9 else None
                    returned = s["end"] if issued and s["end"] and s["end"] > issued else None
                    rentals.append([f"RN{len(rentals) + 1:07d}", f"RP{oktmo[-5:]}", oktmo, s["recipient_id"],
                                    rng.choice(AIDS), _iso(requested), _iso(issued), _iso(returned)])
            if rng.random() < 0.3:
                when = s["start"] + dt.timedelta(days=rng.randint(0, 60))
                if when <= cfg.as_of:
                    trainings.append([f"TR{len(trainings) + 1:07d}", f"SCH{oktmo[-5:]}", oktmo, "relative",
                                      s["recipient_id"], _iso(when), rng.choice([4, 6, 8, 12])])
        for sid in assistants:
            if rng.random() < 0.5:
                trainings.append([f"TR{len(trainings) + 1:07d}", "SCH-REG", "", "care_assistant", "",
                                  _iso(self.date_between(cfg.start, cfg.as_of)), 16])
        return {
            "contracts.csv": (["contract_id", "recipient_id", "supplement_id", "provider_id", "contract_date",
                               "start_date", "end_date"], contracts),
            "staff.csv": (["staff_id", "role", "provider_id", "oktmo", "hire_date", "leave_date", "is_relative",
                           "relative_recipient_id", "previously_unemployed", "kept_main_job"], staff),
            "rentals.csv": (["rental_id", "point_id", "oktmo", "recipient_id", "item_code", "requested_date",
                             "issued_date", "returned_date"], rentals),
            "care_school.csv": (["training_id", "school_id", "oktmo", "trainee_kind", "recipient_id", "training_date",
                                 "hours"], trainings),
        }

    def write_optima(self, folder: Path) -> dict:
        rng = self.rng
        tables: dict[str, tuple[list[str], list[list]]] = {}
        rows = []
        for rec in self.recipients:
            p = rec["person"]
            d = self.noisy(p, rec["identified"], snils_missing=0.03, noise=0.01)
            priority = "disabled" if rng.random() < 0.35 else ("veteran" if rng.random() < 0.03 else "")
            if priority == "veteran":
                priority = self.care_rng.choice(["wwii_participant", "svo_veteran"])
            rows.append([rec["recipient_id"], format_snils(d["snils"]) if d["snils"] else "", d["surname"],
                         d["first_name"], d["patronymic"], d["sex"], d["birth_date"].isoformat(), d["address"],
                         d["oktmo"], d["phone"], priority, rec["channel"], rec["identified"].isoformat(),
                         rec["status"], rec["status_date"].isoformat(), rec["exit_reason"] or ""]
                        + self.identity_document(p))
            self.truth.append(("optima", "optima_recipient", rec["recipient_id"], p.key))
        tables["recipients.csv"] = (["recipient_id", "snils", "surname", "first_name", "patronymic", "sex",
                                     "birth_date", "address", "oktmo", "phone", "priority_category",
                                     "identified_channel", "identified_date", "status", "status_date",
                                     "exit_reason", "birth_place", "citizenship", "email", "doc_type", "doc_series",
                                     "doc_number", "doc_date", "doc_issuer", "doc_issuer_code"], rows)
        tables["assessments.csv"] = (["assessment_id", "recipient_id", "assessment_date", "care_level", "points"],
                                     [[a["assessment_id"], a["recipient_id"], a["date"].isoformat(),
                                       a["level"] or "", a["points"]] for a in self.assessments])
        tables["supplements.csv"] = (["supplement_id", "recipient_id", "assessment_id", "care_level",
                                      "minutes_per_week", "provider_id", "start_date", "end_date", "ippsu_id",
                                      "need_minutes_per_week", "residential_offered"],
                                     [[s["supplement_id"], s["recipient_id"], s["assessment_id"], s["level"],
                                       s["minutes"], s["provider"], s["start"].isoformat(),
                                       s["end"].isoformat() if s["end"] else "", s["ippsu"], s["need"],
                                       "да" if s["residential_offered"] else "нет"] for s in self.supplements])
        tables["supplement_services.csv"] = (["supplement_id", "service_code", "visits_per_day", "days_per_week",
                                              "minutes_per_visit"],
                                             [[s["supplement_id"], code, visits, days, ""]
                                              for s in self.supplements for code, visits, days in s["services"]])
        tables["ippsu.csv"] = (["ippsu_id", "recipient_id", "assessment_id", "number", "issue_date",
                                "form_of_service", "provider_id", "end_date"],
                               [[s["ippsu"], s["recipient_id"], s["assessment_id"],
                                 s["ippsu_number"], s["ippsu_issued"].isoformat(), "home", s["provider"],
                                 s["end"].isoformat() if s["end"] else ""] for s in self.supplements])
        tables["providers.csv"] = (["provider_id", "name", "inn", "ownership", "oktmo"], self.providers())
        tables["care_reports.csv"] = (["report_id", "supplement_id", "recipient_id", "month", "service_code",
                                       "minutes_delivered", "assistant_id"],
                                      [[r["report_id"], r["supplement_id"], r["recipient_id"], r["month"].isoformat(),
                                        r["service"], r["minutes"], r["assistant"]] for r in self.reports])
        tables.update(self.optima_operations())
        export_id = f"OPTIMA-{self.cfg.as_of:%Y%m%d}-{self.cfg.seed}"
        counts = self._bundle(folder, export_id, f"{self.cfg.as_of.isoformat()}T23:00:00+03:00", tables)
        corrections = self.optima_corrections(tables)
        fixed = self._bundle(folder, f"{export_id}-corrected", f"{(self.cfg.as_of + dt.timedelta(days=5)).isoformat()}"
                             "T10:00:00+03:00", corrections)
        counts["optima_corrections"] = sum(fixed.values())
        return counts

    def identity_document(self, p: Person) -> list:
        """Birth place, citizenship (ОКСМ), e-mail and the passport of a recipient's card (format 1.2), drawn
        from the care model's own stream, the same for every card of the person."""
        rng = random.Random(f"identity-{self.cfg.seed}-{p.key}")
        place = rng.choice(self.munis)["center"]
        issued = p.birth_date.replace(year=p.birth_date.year + 45) if p.birth_date.month != 2 or p.birth_date.day != 29 \
            else p.birth_date.replace(year=p.birth_date.year + 45, day=28)
        email = f"r{rng.randint(1000, 9999)}@example.ru" if rng.random() < 0.2 else ""
        return [f"г. {place}", "643", email, "passport_rf", f"20{rng.randint(10, 99)}",
                f"{rng.randint(0, 999999):06d}", issued.isoformat(), "ГУ МВД России по Воронежской области",
                f"{rng.randint(100, 999)}-{rng.randint(100, 999)}"]

    def providers(self) -> list[list]:
        rng = self.care_rng
        rows = []
        for i in range(1, PROVIDERS + 1):
            m = self.munis[(i - 1) % len(self.munis)]
            state = i <= PROVIDERS // 2
            name = (f"ГБУ «Комплексный центр социального обслуживания населения, {m['center']}»" if state
                    else f"АНО «Забота-{i}»")
            rows.append([f"PRV{i:03d}", name, inn_with_checksum(f"36{rng.randint(0, 9_999_999):07d}"),
                         "state" if state else "non_state", m["oktmo"]])
        return rows

    def optima_corrections(self, tables: dict) -> dict:
        """A later export, as ОПТИМА sends them: a few care reports corrected, a few cards changed (some of
        them a move), and supplements entered by mistake deleted with their reports (deletions.csv)."""
        rng = self.rng
        out: dict[str, tuple[list[str], list[list]]] = {}
        header, reports = tables["care_reports.csv"]
        minutes = header.index("minutes_delivered")
        fixed = [r[:minutes] + [max(0, int(r[minutes]) + rng.choice([-120, -60, 60, 120]))] + r[minutes + 1:]
                 for r in reports if rng.random() < 0.02]
        header_r, cards = tables["recipients.csv"]
        oktmo, address = header_r.index("oktmo"), header_r.index("address")
        municipalities = [m["oktmo"] for m in self.munis]
        moved = []
        for c in cards:
            if rng.random() < 0.01:
                c = list(c)
                if rng.random() < 0.5:
                    c[oktmo] = rng.choice([m for m in municipalities if m != c[oktmo]])
                    c[address] = c[address] + ", кв. " + str(rng.randint(1, 99))
                else:
                    c[header_r.index("phone")] = f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-00"
                moved.append(c)
        header_s, supplements = tables["supplements.csv"]
        mistaken = [s[0] for s in supplements if rng.random() < 0.005]
        supplement = header.index("supplement_id")
        mistaken_ids = set(mistaken)
        gone = [r[0] for r in reports if r[supplement] in mistaken_ids]
        gone_ids = set(gone)
        fixed = [r for r in fixed if r[0] not in gone_ids]
        if fixed:
            out["care_reports.csv"] = (header, fixed)
        if moved:
            out["recipients.csv"] = (header_r, moved)
        header_v, services = tables["supplement_services.csv"]
        gone_services = [f"{v[0]}/{v[1]}" for v in services if v[0] in mistaken_ids]
        deletions = [["supplements", sid, self.cfg.as_of.isoformat(), "ошибочный ввод"] for sid in mistaken] + \
                    [["care_reports", rid, self.cfg.as_of.isoformat(), "ошибочный ввод"] for rid in gone] + \
                    [["supplement_services", key, self.cfg.as_of.isoformat(), "ошибочный ввод"] for key in gone_services]
        if deletions:
            out["deletions.csv"] = (["table", "record_id", "deleted_on", "reason"], deletions)
        return out

    def _bundle(self, folder: Path, export_id: str, exported_at: str, tables: dict) -> dict:
        manifest = {"export_id": export_id, "system": "ЕИС ОПТИМА", "format_version": "1.2", "exported_at": exported_at,
                    "period_from": self.cfg.start.isoformat(), "period_to": self.cfg.as_of.isoformat(), "files": []}
        blobs = {}
        for name, (header, body) in tables.items():
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(header)
            w.writerows(body)
            data = buf.getvalue().encode("utf-8")
            blobs[name] = data
            manifest["files"].append({"name": name, "rows": len(body), "sha256": hashlib.sha256(data).hexdigest()})
        path = folder / f"{export_id}.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, data in [("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())] + \
                    list(blobs.items()):
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
        return {"optima_" + f["name"].removesuffix(".csv"): f["rows"] for f in manifest["files"]}




def smev_envelope(version: str, message_id: str, timestamp: str, sender: str, payload: str,
                  request: bool = True) -> str:
    """A GetRequestResponse envelope as an SMEV 3 consumer receives it (signature omitted)."""
    ns = f"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/{version}"
    basic = f"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/{version}"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">
<S:Body>
<ns2:GetRequestResponse xmlns="{basic}" xmlns:ns2="{ns}">
<ns2:RequestMessage>
<ns2:Request Id="SIGNED_BY_SMEV">
<ns2:SenderProvidedRequestData Id="SIGNED_BY_CONSUMER">
<ns2:MessageID>{message_id}</ns2:MessageID>
<MessagePrimaryContent>
{payload}
</MessagePrimaryContent>
</ns2:SenderProvidedRequestData>
<ns2:MessageMetadata>
<ns2:MessageId>{message_id}</ns2:MessageId>
<ns2:MessageType>REQUEST</ns2:MessageType>
<ns2:Sender><ns2:Mnemonic>{sender}</ns2:Mnemonic></ns2:Sender>
<ns2:SendingTimestamp>{timestamp}</ns2:SendingTimestamp>
<ns2:Recipient><ns2:Mnemonic>LTC36001</ns2:Mnemonic></ns2:Recipient>
<ns2:DeliveryTimestamp>{timestamp}</ns2:DeliveryTimestamp>
<ns2:Status>requestIsQueued</ns2:Status>
</ns2:MessageMetadata>
</ns2:Request>
</ns2:RequestMessage>
</ns2:GetRequestResponse>
</S:Body>
</S:Envelope>
"""


def generate(out: Path, persons: int = 2000, seed: int = 42, as_of: dt.date | None = None) -> dict:
    cfg = Config(persons=persons, seed=seed)
    if as_of:
        cfg.as_of = as_of
    g = Generator(cfg)
    g.population()
    g.pathway()
    return g.write(Path(out))
