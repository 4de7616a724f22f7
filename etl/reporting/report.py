"""The monthly report for the coordination centre: an XLSX workbook (a sheet per mart, Russian
headers, number formats, charts) and an HTML page with the same tables and SVG charts, both read
from the published marts. `ltcreg report monthly --month YYYY-MM` and the ltc_monthly_report DAG.
"""
from __future__ import annotations

import datetime as dt
import decimal
import html
from dataclasses import dataclass
from pathlib import Path

from etl.base import db, settings

LABELS = {  # column → header the RKC reads
    "month": "Месяц", "oktmo": "ОКТМО", "municipality": "Муниципальное образование", "channel": "Канал выявления",
    "received": "Поступило сведений", "identified": "Выявлено впервые", "assessed": "Оценена нуждаемость",
    "recognised_level_1": "Уровень 1", "recognised_level_2": "Уровень 2", "recognised_level_3": "Уровень 3",
    "not_needing": "Не нуждаются", "contracted": "Заключён договор", "receiving": "Получают пакет",
    "median_days_to_assessment": "Дней до оценки (медиана)", "p90_days_to_assessment": "Дней до оценки (90%)",
    "median_days_to_service": "Дней до услуг (медиана)", "p90_days_to_service": "Дней до услуг (90%)",
    "care_level": "Уровень ухода", "recipients": "Получателей", "entered": "Вошли", "exited": "Выбыли",
    "exited_death": "Выбыли: смерть", "exited_refusal": "Выбыли: отказ", "exited_other": "Выбыли: иное",
    "provider_id": "Поставщик", "assigned_minutes": "Назначено, мин", "delivered_minutes": "Оказано, мин",
    "delivery_ratio": "Исполнение", "under_delivered_recipients": "Недопоставка (получателей)",
    "hospital_days": "Дней в стационаре", "hospital_minutes": "Не назначено на дни в стационаре, мин",
    "year": "Год", "ltc_persons": "Получателей СДУ", "planned": "План", "fact": "Факт",
    "variance": "Отклонение", "variance_pct": "Отклонение, %",
    "target_persons": "Из них старше трудоспособного возраста и инвалиды",
    "age_unknown_persons": "Возраст не определён (нет границы в ref.working_age)", "persons_needing_social_services": "Признаны нуждающимися",
    "coverage_share": "Охват, %", "target_share": "Цель, %", "meets_target": "Цель достигнута",
    "base_source": "Источник базы", "period_kind": "Период", "period_end": "На дату", "code": "Код",
    "name_ru": "Показатель", "unit": "Единица", "value": "Значение", "numerator": "Числитель",
    "denominator": "Знаменатель", "formula_ru": "Формула", "parameter_note": "Параметр",
    "point_id": "Пункт проката", "requested": "Заявок", "issued": "Выдано", "returned": "Возвращено",
    "waiting_at_month_end": "Ожидают на конец месяца", "in_use_at_month_end": "В пользовании",
    "median_wait_days": "Ожидание, дней (медиана)", "trainee_kind": "Обучаемые", "trainings": "Занятий",
    "people_trained": "Обучено человек", "hours": "Часов", "suite": "Набор проверок", "expectation": "Проверка",
    "severity": "Важность", "success": "Пройдена", "unexpected_count": "Нарушений", "checkpoint": "Контрольная точка",
}
PERCENT = {"delivery_ratio"}
VALUES = {  # codes shown in Russian
    "channel": {"dispensary": "диспансеризация", "doctor_visit": "приём врача", "hospital_discharge": "выписка из стационара",
                "mse": "МСЭ", "epgu": "заявление через ЕПГУ", "other": "иное"},
    "trainee_kind": {"relative": "родственники", "care_assistant": "помощники по уходу", "other": "иные"},
    "severity": {"critical": "критическая", "warning": "предупреждение"},
}


@dataclass
class Sheet:
    title: str
    sql: str
    columns: list[str]
    chart: tuple[str, str] | None = None  # (category column, value column) for a bar chart


def sheets(month: dt.date) -> list[Sheet]:
    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    m = f"DATE '{month.isoformat()}'"
    return [
        Sheet("Получатели по уровням", f"SELECT municipality, care_level, recipients, entered, exited, exited_death, "
              f"exited_refusal, exited_other FROM marts.mart_recipients_by_level WHERE month = {m} ORDER BY 1, 2",
              ["municipality", "care_level", "recipients", "entered", "exited", "exited_death", "exited_refusal",
               "exited_other"], ("care_level", "recipients")),
        Sheet("Выявление", f"SELECT municipality, channel, received, identified, assessed, recognised_level_1, "
              f"recognised_level_2, recognised_level_3, not_needing, contracted, receiving, median_days_to_assessment, "
              f"p90_days_to_assessment, median_days_to_service, p90_days_to_service "
              f"FROM marts.mart_identification_funnel WHERE month = {m} ORDER BY 1, 2",
              ["municipality", "channel", "received", "identified", "assessed", "recognised_level_1",
               "recognised_level_2", "recognised_level_3", "not_needing", "contracted", "receiving",
               "median_days_to_assessment", "p90_days_to_assessment", "median_days_to_service",
               "p90_days_to_service"], ("channel", "identified")),
        Sheet("Исполнение пакета", f"SELECT p.provider_id, coalesce(mu.name, 'не указан') AS municipality, p.recipients, "
              f"p.assigned_minutes, p.delivered_minutes, p.delivery_ratio, p.under_delivered_recipients, "
              f"p.hospital_days, p.hospital_minutes "
              f"FROM marts.mart_package_execution_provider p LEFT JOIN ref.municipality mu USING (oktmo) "
              f"WHERE p.month = {m} ORDER BY 1, 2",
              ["provider_id", "municipality", "recipients", "assigned_minutes", "delivered_minutes", "delivery_ratio",
               "under_delivered_recipients", "hospital_days", "hospital_minutes"], ("provider_id", "delivered_minutes")),
        Sheet("Показатели (КПЭ)", f"SELECT name_ru, value, unit, numerator, denominator, formula_ru, parameter_note "
              f"FROM marts.mart_kpi WHERE period_kind = 'month_ytd' AND period_end = DATE '{end.isoformat()}' "
              f"AND oktmo IS NULL ORDER BY code", ["name_ru", "value", "unit", "numerator", "denominator",
                                                   "formula_ru", "parameter_note"]),
        Sheet("КПЭ по муниципалитетам", f"SELECT municipality, name_ru, value, unit, numerator, denominator "
              f"FROM marts.mart_kpi WHERE period_kind = 'month_ytd' AND period_end = DATE '{end.isoformat()}' "
              f"AND oktmo IS NOT NULL ORDER BY municipality, code",
              ["municipality", "name_ru", "value", "unit", "numerator", "denominator"]),
        Sheet("План и факт", f"SELECT municipality, name_ru, unit, planned, fact, variance, variance_pct "
              f"FROM marts.mart_plan_fact WHERE month = {m} ORDER BY oktmo NULLS FIRST, indicator",
              ["municipality", "name_ru", "unit", "planned", "fact", "variance", "variance_pct"]),
        Sheet("Охват", f"SELECT municipality, ltc_persons, target_persons, persons_needing_social_services, "
              f"coverage_share, target_share, meets_target, base_source FROM marts.mart_coverage "
              f"WHERE year = {month.year} ORDER BY 1",
              ["municipality", "ltc_persons", "target_persons", "persons_needing_social_services", "coverage_share",
               "target_share", "meets_target", "base_source"], ("municipality", "coverage_share")),
        Sheet("Пункты проката", f"SELECT municipality, point_id, requested, issued, returned, waiting_at_month_end, "
              f"in_use_at_month_end, median_wait_days FROM marts.mart_rental_points WHERE month = {m} ORDER BY 1, 2",
              ["municipality", "point_id", "requested", "issued", "returned", "waiting_at_month_end",
               "in_use_at_month_end", "median_wait_days"]),
        Sheet("Школы ухода", f"SELECT municipality, trainee_kind, trainings, people_trained, hours "
              f"FROM marts.mart_care_school WHERE month = {m} ORDER BY 1, 2",
              ["municipality", "trainee_kind", "trainings", "people_trained", "hours"]),
        Sheet("Качество данных", "SELECT checkpoint, suite, expectation, severity, success, unexpected_count "
              "FROM marts.mart_data_quality WHERE run_id = (SELECT run_id FROM marts.mart_data_quality "
              "ORDER BY validated_at DESC LIMIT 1) ORDER BY success, severity, suite, expectation",
              ["checkpoint", "suite", "expectation", "severity", "success", "unexpected_count"]),
    ]


def _plain(v):
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


def collect(month: dt.date) -> list[tuple[Sheet, list[tuple]]]:
    out = []
    with db.transaction() as conn, conn.cursor() as cur:
        for s in sheets(month):
            cur.execute(s.sql)
            out.append((s, [tuple(VALUES.get(c, {}).get(v, _plain(v)) for c, v in zip(s.columns, r))
                            for r in cur.fetchall()]))
    return out


def write_xlsx(path: Path, month: dt.date, data, about: list[str] = ()) -> None:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    head_fill = PatternFill("solid", fgColor="DDE7F0")
    if about:
        ws = wb.create_sheet("О выпуске")
        ws.append([f"Мониторинг СДУ — {month:%m.%Y}"])
        ws["A1"].font = Font(bold=True, size=12)
        for line in about:
            ws.append([line])
            _as_text(ws.cell(row=ws.max_row, column=1))
        ws.column_dimensions["A"].width = 120
    for sheet, rows in data:
        ws = wb.create_sheet(sheet.title[:31])
        ws.append([f"{sheet.title} — {month:%m.%Y}"])
        ws["A1"].font = Font(bold=True, size=12)
        ws.append([LABELS.get(c, c) for c in sheet.columns])
        for cell in ws[2]:
            cell.font, cell.fill = Font(bold=True), head_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for r in rows:
            ws.append(["да" if v is True else "нет" if v is False else v for v in r])
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, str):
                    _as_text(cell)
        for i, col in enumerate(sheet.columns, start=1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = max(12, min(60, len(LABELS.get(col, col)) + 2))
            fmt = "0.0%" if col in PERCENT else None
            for (cell,) in ws.iter_rows(min_row=3, min_col=i, max_col=i):
                if isinstance(cell.value, float):
                    cell.number_format = fmt or "# ##0.00"
                elif isinstance(cell.value, int) and not isinstance(cell.value, bool):
                    cell.number_format = "# ##0"
        ws.freeze_panes = "A3"
        if not rows:
            ws.append(["нет данных за месяц"])
        elif sheet.chart:
            cat, val = (sheet.columns.index(c) + 1 for c in sheet.chart)
            chart = BarChart()
            chart.title = f"{LABELS.get(sheet.chart[1])} — {LABELS.get(sheet.chart[0])}"
            chart.add_data(Reference(ws, min_col=val, min_row=2, max_row=len(rows) + 2), titles_from_data=True)
            chart.set_categories(Reference(ws, min_col=cat, min_row=3, max_row=len(rows) + 2))
            chart.height, chart.width = 8, 16
            ws.add_chart(chart, f"{get_column_letter(len(sheet.columns) + 2)}3")
    wb.properties.title = f"Мониторинг СДУ, {month:%m.%Y}"
    wb.save(path)


# What a spreadsheet reads as the start of a formula (OWASP's CSV-injection list): a value from a source,
# such as an OPTIMA point_id "=cmd|' /C calc'!A0", must stay the text it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _as_text(cell) -> None:
    """A text cell, never a formula: openpyxl takes a string starting with '=' for one."""
    cell.data_type = "s"
    if cell.value.startswith(_FORMULA_START):
        cell.quotePrefix = True  # and Excel keeps it text when someone edits the cell


def _svg_bars(rows, sheet: Sheet) -> str:
    cat, val = (sheet.columns.index(c) for c in sheet.chart)
    totals: dict[str, float] = {}
    for r in rows:
        if isinstance(r[val], (int, float)):
            totals[str(r[cat])] = totals.get(str(r[cat]), 0) + float(r[val])
    if not totals:
        return ""
    top = max(totals.values()) or 1
    bar_h, width = 22, 420
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 220}" height="{bar_h * len(totals) + 10}" '
             f'role="img" aria-label="{html.escape(LABELS.get(sheet.chart[1], ""))}">']
    for i, (k, v) in enumerate(totals.items()):
        w = int(width * v / top)
        y = i * bar_h + 4
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{html.escape(k[:24])}</text>'
                     f'<rect x="180" y="{y}" width="{w}" height="{bar_h - 6}" fill="#2f6ea5"/>'
                     f'<text x="{184 + w}" y="{y + 14}" font-size="12">{_number(v)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _number(v: float) -> str:
    return (f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}").replace(",", " ")


def _cell(v, col) -> str:
    if v is None:
        return ""
    if v is True or v is False:
        return "да" if v else "нет"
    if col in PERCENT and isinstance(v, float):
        return f"{v:.1%}"
    if isinstance(v, float):
        return f"{v:,.2f}".replace(",", " ")
    if isinstance(v, int):
        return f"{v:,}".replace(",", " ")
    if isinstance(v, dt.date):
        return f"{v:%d.%m.%Y}"
    return html.escape(str(v))


def write_html(path: Path, month: dt.date, data, about: list[str] = ()) -> None:
    body = [f"<h1>Мониторинг системы долговременного ухода — {month:%m.%Y}</h1>",
            f"<p>Сформировано {dt.datetime.now():%d.%m.%Y %H:%M} из опубликованных витрин регистра.</p>"]
    body += [f'<p class="edition">{html.escape(line)}</p>' for line in about]
    for sheet, rows in data:
        body.append(f"<h2>{html.escape(sheet.title)}</h2>")
        if not rows:
            body.append("<p><i>нет данных за месяц</i></p>")
            continue
        if sheet.chart:
            body.append(f'<div class="chart">{_svg_bars(rows, sheet)}</div>')
        head = "".join(f"<th>{html.escape(LABELS.get(c, c))}</th>" for c in sheet.columns)
        trs = "".join("<tr>" + "".join(f"<td>{_cell(v, c)}</td>" for v, c in zip(r, sheet.columns)) + "</tr>"
                      for r in rows)
        body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>")
    path.write_text(f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Мониторинг СДУ {month:%m.%Y}</title>
<style>body{{font-family:sans-serif;margin:24px;color:#1b1b1b}} table{{border-collapse:collapse;margin:8px 0 24px}}
th,td{{border:1px solid #c8d3dc;padding:4px 8px;font-size:13px}} th{{background:#dde7f0}}
td{{text-align:right}} td:first-child{{text-align:left}} h2{{margin-top:28px}}</style></head>
<body>{''.join(body)}</body></html>
""", encoding="utf-8")


MART_TITLES = {"mart_recipients_by_level": "получатели по уровням", "mart_identification_funnel": "выявление",
               "mart_package_execution_recipient": "исполнение пакета (получатели)",
               "mart_package_execution_provider": "исполнение пакета (поставщики)", "mart_kpi": "показатели",
               "mart_coverage": "охват", "mart_rental_points": "пункты проката", "mart_care_school": "школы ухода"}


def edition(month: dt.date) -> list[str]:
    """Which revision of the month the report shows, in the words the RKC reads."""
    from etl.models import periods

    found = periods.status(month)
    if not found:
        return [f"Месяц {month:%m.%Y} не закрыт: цифры могут измениться, когда источники пришлют исправления."]
    p = found[0]
    lines = [f"Редакция {p['revision']}: месяц закрыт {p['closed_at']:%d.%m.%Y} ({p['closed_by']})."]
    if p["pending_revision"]:
        lines.append(f"После закрытия данные изменились; редакция {p['pending_revision']} не принята "
                     f"(ltcreg period close {month:%Y-%m}), отчёт показывает редакцию {p['revision']}.")
        for mart, c in p["pending_changes"].items():
            measures = ", ".join(f"{LABELS.get(k, k)} {v:+}" for k, v in c["measures"].items())
            lines.append(f"— {MART_TITLES.get(mart, mart)}: строк добавлено {c['rows_added']}, удалено "
                         f"{c['rows_removed']}, изменено {c['rows_changed']}" + (f"; {measures}" if measures else ""))
        batches = p["pending_batches"] or []
        lines.append("Пакеты загрузки после закрытия: " + (", ".join(map(str, batches)) if batches else "нет") + ".")
    return lines


def monthly(month: dt.date, out_dir: Path | None = None) -> dict:
    month = month.replace(day=1)
    out_dir = Path(out_dir or settings.current().reports_dir or db.var_dir() / "reports")
    out_dir.mkdir(parents=True, exist_ok=True)
    data = collect(month)
    about = edition(month)
    xlsx, page = out_dir / f"ltc-monitoring-{month:%Y-%m}.xlsx", out_dir / f"ltc-monitoring-{month:%Y-%m}.html"
    write_xlsx(xlsx, month, data, about)
    write_html(page, month, data, about)
    return {"xlsx": str(xlsx), "html": str(page), "rows": {s.title: len(r) for s, r in data}, "edition": about}


def previous_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
