"""The screens (`ltcreg serve`), driven by a real browser — Debian's headless Chromium through Selenium —
against the real server (uvicorn in a thread of this process) on a generated region in PostgreSQL.

What a ТКЦ specialist and an RKC analyst do: log in, work a worklist item, decide a review pair (and see
the decision survive a rebuild), merge and unmerge from the card, be refused another municipality's
person; and what a hostile client sends: forged CSRF tokens, SQL metacharacters, a second decision on a
pair, an expired session. Expected values come from the database as the superuser sees it, not from the
screens' own code.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest

from etl.base import normalize
from etl.models import access, catalog
from tests.conftest import png_colours, publish_checked, query, truncate_all

PASSWORD = "пароль-для-проверки-1"


@dataclass
class Site:
    url: str
    tkc: str
    rkc: str
    place: str          # the ТКЦ's municipality (OKTMO)
    place_name: str
    other: str          # a municipality the ТКЦ does not cover
    worklist: str       # a worklist with items in the ТКЦ's municipality
    pair: int           # an open review pair in the ТКЦ's municipality
    other_pair: int     # and one in the other municipality
    pair_records: tuple


def _free_snils(prefix: str) -> str:
    """A valid SNILS the generated region does not hold."""
    for n in range(100):
        nine = f"{prefix}{n:02d}"
        snils = nine + normalize.snils_checksum(nine)
        if not query("SELECT 1 FROM register.int_person_record WHERE snils = %s", (snils,)):
            return snils
    raise AssertionError("no free SNILS")


def _conflicting_cards(oktmo: str, snils: str, tag: str) -> tuple[list[str], list[dict]]:
    """Two ЕИС cards with one SNILS but other names and birth dates: a pair the linker sends to review."""
    ids = [f"WEB-{tag}-1", f"WEB-{tag}-2"]
    return ids, [{"recipient_id": rid, "snils": snils, "surname": "Веб-Проверкина", "first_name": first,
                  "patronymic": "Тестовна", "sex": "F", "birth_date": born, "oktmo": oktmo,
                  "identified_channel": "epgu", "identified_date": "2024-03-01", "status": "identified",
                  "status_date": "2024-03-01", "exit_reason": ""}
                 for rid, (first, born) in zip(ids, [("Ираида", "1941-03-09"), ("Зинаида", "1950-08-17")])]


def _optima_delta(folder, cards: list[dict]):
    """An OPTIMA export of these cards alone (a delta: the manifest lists what it carries), landed as a
    source sends it."""
    import csv
    import hashlib
    import io
    import json
    import zipfile

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(cards[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(cards)
    body = buf.getvalue().encode()
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "web-cards.zip", "w") as z:
        z.writestr("manifest.json", json.dumps({
            "export_id": "WEB-1", "format_version": "1.1", "exported_at": "2025-06-02T10:00:00+03:00",
            "files": [{"name": "recipients.csv", "rows": len(cards), "sha256": hashlib.sha256(body).hexdigest()}]}))
        z.writestr("recipients.csv", body)
    return folder


def _pair_of(natural_ids: list[str]) -> int:
    rows = query("""SELECT v.review_id FROM register.review v
                    JOIN register.int_person_record a ON a.entity = v.entity_l AND a.stg_id = v.stg_id_l
                    JOIN register.int_person_record b ON b.entity = v.entity_r AND b.stg_id = v.stg_id_r
                    WHERE v.status = 'open' AND a.natural_id = ANY(%s) AND b.natural_id = ANY(%s)""",
                 (natural_ids, natural_ids))
    assert len(rows) == 1, f"one open review pair for {natural_ids}: {rows}"
    return rows[0][0]


@pytest.fixture(scope="module")
def site(pg_url, region, tmp_path_factory):
    import uvicorn

    from etl.orchestration import pipeline
    from etl.web.app import create_app

    truncate_all(pg_url)
    out, _ = region
    for source in ("health", "smev", "optima"):
        pipeline.ingest(source, out / source, "test")
    pipeline.build_register("test")
    pipeline.build_marts("test")
    # the ТКЦ's municipality: the one with most worklist items (as built, before publication)
    counts = {}
    for name in catalog.named("worklists"):
        for oktmo, n in query(f"SELECT oktmo, count(*) FROM build.{name} GROUP BY 1"):
            counts.setdefault(oktmo, {})[name] = n
    place = max((o for o in counts if o != "00000000"), key=lambda o: sum(counts[o].values()))
    worklist = max(counts[place], key=counts[place].get)
    other = next(o for (o,) in query("SELECT DISTINCT oktmo FROM register.person WHERE oktmo IS NOT NULL "
                                     "AND oktmo <> %s ORDER BY 1", (place,)))
    own_ids, own = _conflicting_cards(place, _free_snils("9876543"), "OWN")
    other_ids, others = _conflicting_cards(other, _free_snils("9876542"), "OTHER")
    pipeline.ingest("optima", _optima_delta(tmp_path_factory.mktemp("web") / "optima", own + others), "test")
    pipeline.build_register("test")
    publish_checked()
    tag = uuid.uuid4().hex[:6]
    tkc, rkc = f"tkc_web_{tag}", f"rkc_web_{tag}"
    access.grant_tkc(tkc, place, worklists=True, password=PASSWORD)
    access.grant_rkc(rkc, worklists=True, password=PASSWORD)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield Site(url=f"http://127.0.0.1:{port}", tkc=tkc, rkc=rkc, place=place,
                   place_name=query("SELECT name FROM ref.municipality WHERE oktmo = %s", (place,))[0][0],
                   other=other, worklist=worklist, pair=_pair_of(own_ids), other_pair=_pair_of(other_ids),
                   pair_records=tuple(own_ids))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        query("DELETE FROM ref.tkc_role WHERE role_name IN (%s, %s)", (tkc, rkc))
        for role in (tkc, rkc):
            query(f"DROP OWNED BY {role}")
            query(f"DROP ROLE {role}")


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    assert chromium and driver, "Debian's chromium and chromium-driver are installed by `make test` (make browser)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1366,1000", "--lang=ru-RU"):
        options.add_argument(arg)
    b = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    b.set_page_load_timeout(60)
    try:
        yield b
    finally:
        b.quit()


# ---- helpers -------------------------------------------------------------------------------------------------
def submit(browser, button) -> None:
    """Press a form's button and wait until the page it leads to has replaced this one and loaded. A mark
    left on this page's window is gone on the next one; asking while the page changes may fail, and is
    asked again (reading the old page's elements mid-navigation gives stale ones)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__leaving = true")
    button.click()
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda b: b.execute_script("return window.__leaving === undefined && document.readyState === 'complete'"),
        message="the next page")


def log_in(browser, site: Site, login: str, password: str = PASSWORD) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url + "/login")
    browser.find_element(By.NAME, "login").send_keys(login)
    browser.find_element(By.NAME, "password").send_keys(password)
    submit(browser, browser.find_element(By.ID, "enter"))


def text(browser, css: str) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, css).text


def client(browser, site: Site) -> httpx.Client:
    """An HTTP client in the browser's session: for what a browser does not send (forged forms)."""
    cookie = browser.get_cookie("ltc_session")
    assert cookie, "logged in"
    return httpx.Client(base_url=site.url, cookies={"ltc_session": cookie["value"]}, follow_redirects=False,
                        timeout=60)


def csrf_of(http: httpx.Client) -> str:
    page = http.get("/worklists").text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def audit_rows(login: str, action: str) -> list[tuple]:
    return query("SELECT target, outcome FROM web.audit WHERE login = %s AND action = %s ORDER BY at, audit_id",
                 (login, action))


def person_of(natural_id: str) -> str:
    return query("""SELECT p.register_id FROM register.int_person_record r
                    JOIN register.person_link l USING (entity, stg_id) JOIN register.person p USING (person_id)
                    WHERE r.natural_id = %s""", (natural_id,))[0][0]


def assert_screenshot(browser, needle: str) -> None:
    assert needle in browser.page_source
    colours = png_colours(browser.get_screenshot_as_png())
    assert colours > 20, f"the screenshot looks blank ({colours} colours)"


# ---- what the people at the screens do -------------------------------------------------------------------------
def test_tkc_sees_its_municipality_and_works_an_item(site, browser):
    from selenium.webdriver.common.by import By

    log_in(browser, site, site.tkc)
    assert browser.current_url.endswith("/worklists")
    assert text(browser, "#who") == f"{site.tkc} · ТКЦ: {site.place_name}"
    # counts per municipality: its own only, as many as the worklist holds there
    for row in browser.find_elements(By.CSS_SELECTOR, "#worklists tbody tr"):
        tags = [t.text for t in row.find_elements(By.CSS_SELECTOR, ".tag")]
        assert all(t.startswith(site.place_name + ":") for t in tags), tags
    want = query(f"SELECT item_key, municipality FROM worklist.{site.worklist} WHERE oktmo = %s", (site.place,))
    assert want, "the chosen worklist has items in the municipality"
    browser.get(f"{site.url}/worklists/{site.worklist}")
    rows = browser.find_elements(By.CSS_SELECTOR, "#items tbody tr[data-item]")
    assert sorted(r.get_attribute("data-item") for r in rows) == sorted(k for k, _ in want)
    assert {r.find_elements(By.TAG_NAME, "td")[2].text for r in rows} == {site.place_name}
    assert_screenshot(browser, site.place_name)

    key = rows[0].get_attribute("data-item")
    row = f'#items tr[data-item="{key}"]'
    submit(browser, browser.find_element(By.CSS_SELECTOR, f"{row} button[value=take]"))
    assert text(browser, f"{row} .owner") == site.tkc
    assert text(browser, f"{row} .status") == "в работе"
    assert query("SELECT owner, status FROM worklist.item_state WHERE worklist = %s AND item_key = %s",
                 (site.worklist, key)) == [(site.tkc, "in_progress")]
    browser.find_element(By.CSS_SELECTOR, f"{row} input[name=comment]").send_keys("позвонили, оценка 12.03")
    submit(browser, browser.find_element(By.CSS_SELECTOR, f"{row} button[value=done]"))
    assert text(browser, f"{row} .status").startswith("выполнено")
    assert query("SELECT owner, status, comment, updated_by FROM worklist.item_state WHERE worklist = %s "
                 "AND item_key = %s", (site.worklist, key)) == [(site.tkc, "done", "позвонили, оценка 12.03", site.tkc)]
    assert ("ok",) in [(o,) for _, o in audit_rows(site.tkc, "worklist_done")]
    # the summary counts it as done
    browser.get(site.url + "/worklists")
    link = browser.find_element(By.CSS_SELECTOR, f'#worklists a[href="/worklists/{site.worklist}"]')
    cells = link.find_element(By.XPATH, "./ancestor::tr").find_elements(By.TAG_NAME, "td")
    assert [c.text for c in cells[1:5]] == [str(len(want)), str(len(want) - 1), "0", "1"]


def test_tkc_decides_a_pair_and_the_decision_survives_a_rebuild(site, browser):
    from selenium.webdriver.common.by import By

    from etl.cli import main

    left, right = site.pair_records
    assert person_of(left) != person_of(right)
    log_in(browser, site, site.tkc)
    browser.get(site.url + "/review")
    listed = {int(a.text) for a in browser.find_elements(By.CSS_SELECTOR, "#pairs tbody a")}
    assert site.pair in listed and site.other_pair not in listed
    browser.get(f"{site.url}/review/{site.pair}")
    sides = text(browser, "#sides")
    assert "Ираида" in sides and "Зинаида" in sides and "Вклад в вес" in sides
    browser.find_element(By.NAME, "comment").send_keys("одна и та же: ошибка в дате рождения в ЕИС")
    submit(browser, browser.find_element(By.ID, "match"))
    assert text(browser, "#pair-status") == "решено: совпадает"
    assert person_of(left) == person_of(right)
    assert query("SELECT status, decision, decided_by, comment FROM register.review WHERE review_id = %s",
                 (site.pair,)) == [("decided", "match", site.tkc, "одна и та же: ошибка в дате рождения в ЕИС")]

    assert main(["register", "rebuild"]) == 0  # from scratch: the decision is a constraint, not a result
    assert person_of(left) == person_of(right)
    assert query("SELECT decision, decided_by FROM register.review WHERE review_id = %s", (site.pair,)) == [
        ("match", site.tkc)]
    # another municipality's pair: not listed, and refused when asked for by number
    browser.get(f"{site.url}/review/{site.other_pair}")
    assert "Нет доступа" in browser.page_source
    assert (str(site.other_pair), "forbidden") in audit_rows(site.tkc, "view_review")


def test_rkc_merges_and_unmerges_from_the_card(site, browser):
    from selenium.webdriver.common.by import By

    a, b = [r for (r,) in query("""SELECT register_id FROM register.person WHERE status = 'active' AND oktmo = %s
                                  AND person_id IN (SELECT person_id FROM register.person_link)
                                  ORDER BY register_id LIMIT 2""", (site.other,))]
    records_of_b = query("SELECT l.entity, l.stg_id FROM register.person_link l JOIN register.person p "
                         "USING (person_id) WHERE p.register_id = %s ORDER BY 1, 2", (b,))
    log_in(browser, site, site.rkc)
    assert browser.current_url.endswith("/dashboard")
    assert_screenshot(browser, "Воронка выявления")
    browser.get(f"{site.url}/person/{a}")
    assert a in text(browser, "#person") and text(browser, "#records")
    browser.find_element(By.ID, "merge-other").send_keys(b)
    browser.find_element(By.NAME, "comment").send_keys("дубль карточки")
    submit(browser, browser.find_element(By.ID, "merge"))
    assert text(browser, "#done") == "Объединено."
    kept = re.search(r"/person/([^?]+)", browser.current_url).group(1)
    gone = b if kept == a else a
    assert query("SELECT p.status, k.register_id FROM register.person p JOIN register.person k "
                 "ON k.person_id = p.merged_into WHERE p.register_id = %s", (gone,)) == [("merged", kept)]
    assert_screenshot(browser, "Записи источников")

    submit(browser, browser.find_element(By.ID, "unmerge"))
    assert text(browser, "#done") == "Разделено."
    assert query("SELECT status FROM register.person WHERE register_id IN (%s, %s)", (a, b)) == [("active",)] * 2
    assert query("SELECT l.entity, l.stg_id FROM register.person_link l JOIN register.person p "
                 "USING (person_id) WHERE p.register_id = %s ORDER BY 1, 2", (b,)) == records_of_b
    assert [o for t, o in audit_rows(site.rkc, "merge")] == ["ok"]
    assert [o for t, o in audit_rows(site.rkc, "unmerge")] == ["ok"]


def test_tkc_is_refused_another_municipalitys_person_and_the_refusal_audited(site, browser):
    from selenium.webdriver.common.by import By

    [(foreign,)] = query("SELECT register_id FROM register.person WHERE status = 'active' AND oktmo = %s "
                         "ORDER BY register_id LIMIT 1", (site.other,))
    [(own,)] = query("SELECT register_id FROM register.person WHERE status = 'active' AND oktmo = %s "
                     "ORDER BY register_id LIMIT 1", (site.place,))
    log_in(browser, site, site.tkc)
    browser.get(f"{site.url}/person/{own}")
    assert own in text(browser, "#person")
    browser.get(f"{site.url}/person/{foreign}")
    assert "Нет доступа" in text(browser, "main") and not browser.find_elements(By.ID, "records")
    with client(browser, site) as http:
        refused = http.get(f"/person/{foreign}")
        assert refused.status_code == 403 and foreign not in refused.text.split("<main>")[1]
        # merging is the RKC's: a ТКЦ form with a valid token is refused too
        assert http.post(f"/person/{own}/merge", data={"other": foreign, "csrf": csrf_of(http)}).status_code == 403
    assert audit_rows(site.tkc, "view_person")[-3:] == [(own, "ok"), (foreign, "forbidden"), (foreign, "forbidden")]
    assert audit_rows(site.tkc, "merge")[-1] == (own, "forbidden")
    assert query("SELECT status FROM register.person WHERE register_id IN (%s, %s)", (own, foreign)) == [("active",)] * 2


# ---- what a hostile client sends ----------------------------------------------------------------------------
def test_forged_or_missing_csrf_tokens_are_refused(site, browser):
    log_in(browser, site, site.tkc)
    [(key,)] = query(f"SELECT item_key FROM worklist.{site.worklist} WHERE oktmo = %s AND item_key NOT IN "
                     "(SELECT item_key FROM worklist.item_state) ORDER BY 1 LIMIT 1", (site.place,))
    with client(browser, site) as http:
        real = csrf_of(http)
        for token in ("forged", real[:-1] + ("A" if real[-1] != "A" else "B"), ""):
            r = http.post(f"/worklists/{site.worklist}/item", data={"item_key": key, "action": "take", "csrf": token})
            assert r.status_code == 403 and "CSRF" in r.text
        for path, form in ((f"/review/{site.other_pair}", {"decision": "match"}),
                           ("/logout", {})):
            assert http.post(path, data={**form, "csrf": "forged"}).status_code == 403
        assert http.get("/worklists").status_code == 200  # still logged in: the forged log-out did nothing
    assert query("SELECT count(*) FROM worklist.item_state WHERE item_key = %s", (key,)) == [(0,)]
    assert query("SELECT status FROM register.review WHERE review_id = %s", (site.other_pair,)) == [("open",)]
    assert [o for t, o in audit_rows(site.tkc, "worklist_item")][-3:] == ["csrf"] * 3


METACHARACTERS = ["' OR '1'='1", "'; DROP TABLE web.audit; --", '" OR ""="', "%' OR 1=1 --", "\\'; SELECT pg_sleep(5); --",
                  "1); DELETE FROM register.person; --", "Ромашка\x00'--", "<script>alert(1)</script>", "$$;$$"]


def test_sql_metacharacters_in_every_field(site, browser):
    before = query("SELECT (SELECT count(*) FROM register.person), (SELECT count(*) FROM register.review), "
                   "(SELECT count(*) FROM web.user_account)")
    anonymous = httpx.Client(base_url=site.url, follow_redirects=False, timeout=60)
    for bad in METACHARACTERS:
        r = anonymous.post("/login", data={"login": bad, "password": bad})
        assert r.status_code == 401 and "ltc_session" not in r.cookies
        assert anonymous.post("/login", data={"login": site.tkc, "password": bad}).status_code == 401
    log_in(browser, site, site.rkc)
    [(key,)] = query(f"SELECT item_key FROM worklist.{site.worklist} WHERE item_key NOT IN "
                     "(SELECT item_key FROM worklist.item_state) ORDER BY 1 LIMIT 1")
    [(rid,)] = query("SELECT register_id FROM register.person WHERE status = 'active' ORDER BY 1 LIMIT 1")
    with client(browser, site) as http:
        token = csrf_of(http)
        for bad in METACHARACTERS:
            segment = quote(bad, safe="")  # in a path, percent-encoded as a browser sends it
            answers = [
                http.get("/person", params={"register_id": bad}),
                http.get(f"/person/{segment}"),
                http.get(f"/worklists/{segment}"),
                http.get(f"/worklists/{site.worklist}", params={"status": bad, "mine": "1"}),
                http.get("/review", params={"status": bad}),
                http.get(f"/review/{segment}"),
                http.get("/dashboard", params={"month": bad, "oktmo": bad}),
                http.post(f"/worklists/{site.worklist}/item", data={"item_key": bad, "action": "take", "csrf": token}),
                http.post(f"/worklists/{site.worklist}/item", data={"item_key": key, "action": bad, "csrf": token}),
                http.post(f"/review/{site.other_pair}", data={"decision": bad, "comment": bad, "csrf": token}),
                http.post(f"/person/{rid}/merge", data={"other": bad, "comment": bad, "csrf": token}),
                http.post(f"/person/{rid}/unmerge", data={"comment": bad, "csrf": token}),
                http.post("/logout", data={"csrf": bad}),
            ]
            codes = [a.status_code for a in answers]
            assert all(c in (200, 303, 307, 400, 403, 404, 422) for c in codes), (bad, codes)
            for a in answers:  # what was typed comes back escaped, never as markup
                assert "<script>alert(1)</script>" not in a.text
        # a comment is text: kept as typed (but for the NUL PostgreSQL's text cannot hold)
        for bad in METACHARACTERS:
            http.post(f"/worklists/{site.worklist}/item", data={"item_key": key, "action": "take", "csrf": token})
            r = http.post(f"/worklists/{site.worklist}/item",
                          data={"item_key": key, "action": "done", "comment": bad, "csrf": token})
            assert r.status_code == 303
            assert query("SELECT comment FROM worklist.item_state WHERE worklist = %s AND item_key = %s",
                         (site.worklist, key)) == [(bad.replace("\x00", "").strip(),)]
        assert http.get("/worklists").status_code == 200
    assert query("SELECT (SELECT count(*) FROM register.person), (SELECT count(*) FROM register.review), "
                 "(SELECT count(*) FROM web.user_account)") == before
    assert query("SELECT status FROM register.review WHERE review_id = %s", (site.other_pair,)) == [("open",)]


def test_a_pair_decided_already_is_not_decided_again(site, browser):
    log_in(browser, site, site.rkc)
    with client(browser, site) as http:
        token = csrf_of(http)
        first = http.post(f"/review/{site.other_pair}", data={"decision": "no_match", "comment": "разные",
                                                               "csrf": token})
        assert first.status_code == 303
        again = http.post(f"/review/{site.other_pair}", data={"decision": "match", "csrf": token})
        assert again.status_code == 409 and "уже решена" in again.text
    assert query("SELECT decision, decided_by, comment FROM register.review WHERE review_id = %s",
                 (site.other_pair,)) == [("no_match", site.rkc, "разные")]
    assert [o for t, o in audit_rows(site.rkc, "decide") if t == str(site.other_pair)] == ["ok", "conflict"]


def test_an_expired_session_goes_back_to_the_log_in_page(site, browser):
    from selenium.webdriver.common.by import By

    log_in(browser, site, site.tkc)
    browser.get(site.url + "/worklists")
    assert browser.find_elements(By.ID, "worklists")
    session = hashlib.sha256(browser.get_cookie("ltc_session")["value"].encode()).hexdigest()
    with client(browser, site) as http:
        token = csrf_of(http)
        # idle longer than allowed (LTC_WEB_IDLE_MINUTES): the next request finds the session over
        query("UPDATE web.session SET last_seen = now() - interval '1 day' WHERE token_hash = %s", (session,))
        r = http.post(f"/worklists/{site.worklist}/item", data={"item_key": "x", "action": "take", "csrf": token})
        assert r.status_code == 303 and r.headers["location"] == "/login?expired=1"
    assert query("SELECT count(*) FROM web.session WHERE token_hash = %s", (session,)) == [(0,)]
    assert query("SELECT count(*) FROM worklist.item_state WHERE item_key = 'x'") == [(0,)]
    log_in(browser, site, site.tkc)
    session = hashlib.sha256(browser.get_cookie("ltc_session")["value"].encode()).hexdigest()
    query("UPDATE web.session SET expires_at = now() - interval '1 second' WHERE token_hash = %s", (session,))
    browser.get(site.url + "/worklists")
    assert browser.current_url.endswith("/login?expired=1")
    assert text(browser, "#message") == "Сеанс истёк: войдите снова."
    assert audit_rows(site.tkc, "session")[-2:] == [(None, "expired")] * 2


def test_a_worklist_not_yet_published_is_said_so(site, browser):
    """A worklist the catalogue has but the database not yet (an upgrade brought it; the next publication
    makes it): its row says so and its page is a 404 with the reason, not an error."""
    from selenium.webdriver.common.by import By

    name = "worklist_priority_waiting"
    query(f"ALTER TABLE worklist.{name} RENAME TO {name}_aside")
    try:
        log_in(browser, site, site.rkc)
        browser.get(site.url + "/worklists")
        row = browser.find_element(By.CSS_SELECTOR, f'#worklists a[href="/worklists/{name}"]').find_element(
            By.XPATH, "./ancestor::tr")
        assert "ещё не опубликован" in row.text
        assert len(browser.find_elements(By.CSS_SELECTOR, "#worklists tbody tr")) == len(catalog.named("worklists"))
        with client(browser, site) as http:
            page = http.get(f"/worklists/{name}")
            assert page.status_code == 404 and "ещё не опубликован" in page.text
            taken = http.post(f"/worklists/{name}/item", data={"item_key": "x", "action": "take",
                                                                "csrf": csrf_of(http)})
            assert taken.status_code == 403
    finally:
        query(f"ALTER TABLE worklist.{name}_aside RENAME TO {name}")


def test_a_long_worklist_is_paged(site, browser, monkeypatch):
    """A region's list of thousands comes a page at a time; every item is on exactly one page."""
    from selenium.webdriver.common.by import By

    from etl.web import app

    monkeypatch.setattr(app, "PAGE_ROWS", 2)
    want = sorted(k for (k,) in query(f"SELECT item_key FROM worklist.{site.worklist}"))
    assert len(want) >= 3, "a list of more than one page"
    log_in(browser, site, site.rkc)
    browser.get(f"{site.url}/worklists/{site.worklist}")
    seen = []
    for n in range(1, -(-len(want) // 2) + 1):
        assert text(browser, ".pager .page") == str(n)
        rows = browser.find_elements(By.CSS_SELECTOR, "#items tbody tr[data-item]")
        assert len(rows) == (2 if n * 2 <= len(want) else len(want) % 2)
        seen += [r.get_attribute("data-item") for r in rows]
        nxt = browser.find_elements(By.CSS_SELECTOR, ".pager .next")
        if nxt:
            submit(browser, nxt[0])
    assert sorted(seen) == want and not browser.find_elements(By.CSS_SELECTOR, ".pager .next")
    browser.get(f"{site.url}/worklists/{site.worklist}?page=9999")  # past the end: the last page
    last = -(-len(want) // 2)
    assert text(browser, ".pager .page") == str(last)
    # acting on an item of the last page comes back to it
    row = browser.find_elements(By.CSS_SELECTOR, "#items tbody tr[data-item]")[0]
    key = row.get_attribute("data-item")
    submit(browser, row.find_element(By.CSS_SELECTOR, "button"))
    assert text(browser, ".pager .page") == str(last)
    assert key in [r.get_attribute("data-item") for r in browser.find_elements(By.CSS_SELECTOR, "#items tr[data-item]")]
