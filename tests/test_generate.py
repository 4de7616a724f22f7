import csv
import datetime as dt
import filecmp
import zipfile

from etl.devtools.generate import generate, load_package_rules, package_cap
from etl.base.normalize import snils_is_valid


def _files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_same_seed_gives_byte_identical_output(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, persons=150, seed=5)
    generate(b, persons=150, seed=5)
    generate(c, persons=150, seed=6)
    assert _files(a) == _files(b)
    for rel in _files(a):
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    assert (a / "truth.csv").read_bytes() != (c / "truth.csv").read_bytes()


def test_formats_and_truth(region):
    out, counts = region
    referral = next((out / "health").glob("referrals_*.csv")).read_bytes()
    header = referral.split(b"\r\n")[0].decode("cp1251")
    assert header.startswith("КодМО;НомерНаправления;")
    with open(out / "truth.csv", encoding="utf-8") as f:
        truth = list(csv.DictReader(f))
    entities = {r["entity"] for r in truth}
    assert {"health_referral", "smev_application", "smev_death", "optima_recipient"} <= entities
    # the same true person appears in several sources
    sources_per_person = {}
    for r in truth:
        sources_per_person.setdefault(r["person_key"], set()).add(r["source"])
    assert sum(len(s) >= 2 for s in sources_per_person.values()) > 0.2 * len(sources_per_person)
    bundle = next((out / "optima").glob("*[0-9].zip"))
    assert set(zipfile.ZipFile(bundle).namelist()) >= {"manifest.json", "recipients.csv", "supplements.csv"}


def test_packages_within_cap_and_ages(region):
    out, _ = region
    rules = load_package_rules()
    z = zipfile.ZipFile(next((out / "optima").glob("*[0-9].zip")))
    sups = list(csv.DictReader(z.read("supplements.csv").decode().splitlines()))
    assert sups
    for s in sups:
        cap = package_cap(rules, int(s["care_level"]), dt.date.fromisoformat(s["start_date"]))
        assert 0 < int(s["minutes_per_week"]) <= cap
    recs = list(csv.DictReader(z.read("recipients.csv").decode().splitlines()))
    for r in recs:
        if r["snils"]:
            assert snils_is_valid(r["snils"].replace("-", "").replace(" ", ""))
        age = (dt.date(2025, 12, 31) - dt.date.fromisoformat(r["birth_date"])).days / 365.25
        assert 54 < age < 101
