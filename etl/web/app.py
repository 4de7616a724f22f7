"""The screens of the register (`ltcreg serve`): ТКЦ worklists with owner and status, the review queue,
the person card (merge and unmerge for the RKC) and the RKC's dashboards. Server-rendered pages, no
script: every action is a form with the session's CSRF token. Russian interface.

Security: a login is a PostgreSQL role, and worklists and marts are read as that role, so row-level
security by municipality applies unchanged. Sessions expire (idle and absolute). Every page that shows
a person's identity and every decision is written to web.audit, and so is every refusal. Values a user
typed never reach SQL but as parameters.
"""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from etl.base import redact, settings
from etl.web import auth, data

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
COOKIE = "ltc_session"
PAGE_ROWS = 200  # rows of a worklist page: a ТКЦ's list fits one, a region's list of thousands is paged
STATUS_RU = {"new": "новое", "in_progress": "в работе", "done": "выполнено"}
ENTITY_RU = {"optima_recipient": "карточка получателя (ЕИС)", "smev_application": "заявление ЕПГУ",
             "health_referral": "направление МО", "health_medical_event": "случай медпомощи",
             "smev_death": "запись ЗАГС о смерти", "smev_disability": "выписка ФРИ"}
LABEL_RU = {"snils": "СНИЛС", "surname": "Фамилия", "first_name": "Имя", "patronymic": "Отчество", "sex": "Пол",
            "birth_date": "Дата рождения", "address": "Адрес", "oktmo": "ОКТМО", "natural_id": "Номер в источнике",
            "register_id": "Регистровый номер"}


def field(value: str | None, limit: int) -> str:
    """What a user typed, as the register keeps text: no NUL (PostgreSQL's text cannot hold one), no
    surrounding blanks, at most `limit` characters."""
    return (value or "").replace("\x00", "").strip()[:limit]


def ru_date(value, empty: str = "") -> str:
    """A date as Russian readers write it: 01.02.2024 (a moment with its time)."""
    if value is None:
        return empty
    if isinstance(value, dt.datetime):
        return value.strftime("%d.%m.%Y %H:%M")
    return value.strftime("%d.%m.%Y") if isinstance(value, dt.date) else str(value)


def create_app() -> FastAPI:
    app = FastAPI(title="Регистр СДУ", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(STATUS_RU=STATUS_RU, ENTITY_RU=ENTITY_RU, LABEL_RU=LABEL_RU)
    templates.env.filters["ru"] = ru_date
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def page(request: Request, template: str, user=None, code: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, template, {"user": user, **context}, status_code=code)

    def current(request: Request):
        """(user, None), or (None, a redirect to the log-in page saying why)."""
        try:
            user = auth.user_of(request.cookies.get(COOKIE))
        except auth.Expired as e:
            auth.audit(str(e), "session", None, "expired")
            return None, RedirectResponse("/login?expired=1", status_code=303)
        if user is None:
            return None, RedirectResponse("/login", status_code=303)
        return user, None

    def refuse(request: Request, user, action: str, target: str | None, why: str = "forbidden") -> HTMLResponse:
        auth.audit(user.login if user else None, action, target, why)
        text = "Нет доступа: запись вне муниципальных образований вашего ТКЦ или действие только для РКЦ." \
            if why == "forbidden" else "Неверный или устаревший токен формы (CSRF): обновите страницу и повторите."
        return page(request, "error.html", user, code=403, message=text)

    def csrf_or_refuse(request: Request, user, token: str | None, action: str, target: str | None):
        if not auth.csrf_ok(user, token):
            return refuse(request, user, action, target, "csrf")
        return None

    @app.middleware("http")
    async def headers(request: Request, call_next):
        try:
            response: Response = await call_next(request)
        except Exception as exc:  # one line, no values (engine messages quote them); never a traceback
            log.error("screen %s failed: %s", request.url.path, redact.safe_message(exc))
            response = page(request, "error.html", None, code=500, message="Внутренняя ошибка: действие не выполнено.")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; form-action 'self'"
        response.headers["Cache-Control"] = "no-store"
        return response

    # ---- log-in ----------------------------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, expired: int = 0):
        return page(request, "login.html", message="Сеанс истёк: войдите снова." if expired else None)

    @app.post("/login")
    def login(request: Request, login: str = Form(""), password: str = Form("")):
        name = field(login, 63)
        known = bool(auth.ROLE.match(name))
        token = auth.login(name, password[:200]) if known else None
        auth.audit(name if known else None, "login", None, "ok" if token else "refused")
        if token is None:
            return page(request, "login.html", code=401, message="Неверное имя или пароль.")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=settings.current().web_secure_cookie,
                            max_age=settings.current().web_session_hours * 3600, path="/")
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")):
        user, go = current(request)
        if go:
            return go
        if (bad := csrf_or_refuse(request, user, csrf, "logout", None)) is not None:
            return bad
        auth.logout(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/")
    def home(request: Request):
        user, go = current(request)
        if go:
            return go
        return RedirectResponse("/dashboard" if user.rkc else "/worklists", status_code=303)

    # ---- worklists -------------------------------------------------------------------------------------------
    @app.get("/worklists", response_class=HTMLResponse)
    def worklists(request: Request):
        user, go = current(request)
        if go:
            return go
        if not user.worklists:
            return page(request, "error.html", user, code=403,
                        message="Рабочие списки содержат персональные данные: вашей учётной записи они не выданы.")
        return page(request, "worklists.html", user, summary=data.worklist_summary(user))

    @app.get("/worklists/{name}", response_class=HTMLResponse)
    def worklist(request: Request, name: str, status: str = "", mine: int = 0, page_no: int = Query(1, alias="page")):
        user, go = current(request)
        if go:
            return go
        if not user.worklists or name not in dict(data.worklists()):
            return refuse(request, user, "worklist", field(name, 100))
        if name not in data.published():
            return page(request, "error.html", user, code=404, message="Список ещё не опубликован: он появится "
                        "после следующей публикации витрин.")
        items = data.worklist_items(user, name, status if status in STATUS_RU else None, bool(mine))
        pages = max(1, -(-len(items) // PAGE_ROWS))
        page_no = min(max(page_no, 1), pages)
        shown = items[(page_no - 1) * PAGE_ROWS:page_no * PAGE_ROWS]
        auth.audit(user.login, "view_worklist", name, "ok", {"persons": len(shown), "page": page_no})
        return page(request, "worklist.html", user, name=name, title=dict(data.worklists())[name], items=shown,
                    total=len(items), page_no=page_no, pages=pages, status=status if status in STATUS_RU else "",
                    mine=1 if mine else 0)

    @app.post("/worklists/{name}/item")
    def worklist_item(request: Request, name: str, item_key: str = Form(""), action: str = Form(""),
                      comment: str = Form(""), csrf: str = Form(""), status: str = Form(""), mine: int = Form(0),
                      page_no: int = Form(1, alias="page")):
        user, go = current(request)
        if go:
            return go
        target = f"{field(name, 100)}:{field(item_key, 300)}"
        if (bad := csrf_or_refuse(request, user, csrf, "worklist_item", target)) is not None:
            return bad
        if not user.worklists or action not in data.ITEM_ACTIONS:
            return refuse(request, user, "worklist_item", target)
        try:
            done = data.act_on_item(user, name, field(item_key, 300), action, field(comment, 2000))
        except (data.Forbidden, LookupError):
            return refuse(request, user, "worklist_item", target)
        auth.audit(user.login, f"worklist_{action}", target, "ok", done)
        back = urlencode({"status": status if status in STATUS_RU else "", "mine": 1 if mine else 0,
                          "page": max(page_no, 1)})
        return RedirectResponse(f"/worklists/{name}?{back}", status_code=303)  # the page the user was on

    # ---- review queue ----------------------------------------------------------------------------------------
    @app.get("/review", response_class=HTMLResponse)
    def review(request: Request, status: str = "open"):
        user, go = current(request)
        if go:
            return go
        status = status if status in ("open", "decided", "all") else "open"
        items = data.review_list(user, status)
        return page(request, "review_list.html", user, items=items, status=status)

    @app.get("/review/{review_id}", response_class=HTMLResponse)
    def review_pair(request: Request, review_id: int):
        user, go = current(request)
        if go:
            return go
        try:
            item = data.review_pair(user, review_id)
        except data.Forbidden:
            return refuse(request, user, "view_review", str(review_id))
        except LookupError:
            return page(request, "error.html", user, code=404, message="Нет такой пары.")
        auth.audit(user.login, "view_review", str(review_id), "ok",
                   {"register_ids": [item["left"]["register_id"], item["right"]["register_id"]]})
        return page(request, "review_pair.html", user, item=item)

    @app.post("/review/{review_id}")
    def decide(request: Request, review_id: int, decision: str = Form(""), comment: str = Form(""),
               csrf: str = Form("")):
        user, go = current(request)
        if go:
            return go
        if (bad := csrf_or_refuse(request, user, csrf, "decide", str(review_id))) is not None:
            return bad
        if decision not in ("match", "no_match"):
            return page(request, "error.html", user, code=400, message="Решение: «совпадает» или «не совпадает».")
        try:
            out = data.decide(user, review_id, decision, field(comment, 2000))
        except data.Forbidden:
            return refuse(request, user, "decide", str(review_id))
        except data.Conflict as e:
            auth.audit(user.login, "decide", str(review_id), "conflict")
            return page(request, "error.html", user, code=409, message=f"Решение не принято: {e}.")
        except LookupError:
            return page(request, "error.html", user, code=404, message="Нет такой пары.")
        auth.audit(user.login, "decide", str(review_id), "ok", out)
        return RedirectResponse(f"/review/{review_id}", status_code=303)

    # ---- the person card -------------------------------------------------------------------------------------
    @app.get("/person", response_class=HTMLResponse)
    def find_person(request: Request, register_id: str = ""):
        user, go = current(request)
        if go:
            return go
        return RedirectResponse(f"/person/{field(register_id, 40)}", status_code=303) if field(register_id, 40) \
            else page(request, "error.html", user, code=400, message="Укажите регистровый номер.")

    @app.get("/person/{register_id}", response_class=HTMLResponse)
    def person(request: Request, register_id: str, done: str = ""):
        user, go = current(request)
        if go:
            return go
        try:
            p = data.person(user, field(register_id, 40))
        except data.Forbidden:
            return refuse(request, user, "view_person", field(register_id, 40))
        except LookupError:
            auth.audit(user.login, "view_person", field(register_id, 40), "not_found")
            return page(request, "error.html", user, code=404, message="Нет такого получателя в регистре.")
        auth.audit(user.login, "view_person", p["register_id"], "ok")
        return page(request, "person.html", user, p=p, done=field(done, 20))

    @app.post("/person/{register_id}/merge")
    def merge(request: Request, register_id: str, other: str = Form(""), comment: str = Form(""),
              csrf: str = Form("")):
        user, go = current(request)
        if go:
            return go
        if (bad := csrf_or_refuse(request, user, csrf, "merge", field(register_id, 40))) is not None:
            return bad
        if not user.rkc:
            return refuse(request, user, "merge", field(register_id, 40))
        try:
            out = data.merge(user, field(register_id, 40), field(other, 40), field(comment, 2000))
        except (LookupError, ValueError) as e:
            auth.audit(user.login, "merge", field(register_id, 40), "refused")
            return page(request, "error.html", user, code=400, message=f"Объединение не выполнено: {e}")
        auth.audit(user.login, "merge", field(register_id, 40), "ok", out)
        kept = out.get("kept") or field(register_id, 40)
        return RedirectResponse(f"/person/{kept}?done=merged", status_code=303)

    @app.post("/person/{register_id}/unmerge")
    def unmerge(request: Request, register_id: str, comment: str = Form(""), csrf: str = Form("")):
        user, go = current(request)
        if go:
            return go
        if (bad := csrf_or_refuse(request, user, csrf, "unmerge", field(register_id, 40))) is not None:
            return bad
        if not user.rkc:
            return refuse(request, user, "unmerge", field(register_id, 40))
        try:
            out = data.unmerge(user, field(register_id, 40), field(comment, 2000))
        except (LookupError, ValueError) as e:
            auth.audit(user.login, "unmerge", field(register_id, 40), "refused")
            return page(request, "error.html", user, code=400, message=f"Разделение не выполнено: {e}")
        auth.audit(user.login, "unmerge", field(register_id, 40), "ok", out)
        return RedirectResponse(f"/person/{out['restored']}?done=unmerged", status_code=303)

    # ---- dashboards ------------------------------------------------------------------------------------------
    @app.get("/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request, month: str = "", oktmo: str = ""):
        user, go = current(request)
        if go:
            return go
        months = data.months(user)
        if not months:
            return page(request, "error.html", user, code=404, message="Витрины ещё не опубликованы.")
        try:
            chosen = dt.date.fromisoformat(month + "-01") if month else months[0]
        except ValueError:
            chosen = months[0]
        place = oktmo if oktmo.isdigit() else (None if user.rkc else (user.municipalities or [None])[0])
        d = data.dashboard(user, chosen, place)
        return page(request, "dashboard.html", user, d=d, months=months, month=chosen, oktmo=place or "")

    return app


def serve(host: str = "127.0.0.1", port: int = 8088) -> None:
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level="info", proxy_headers=True)
