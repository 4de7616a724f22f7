"""ЕИС «ОПТИМА» exports: bundles of CSV tables (bundle.py), landed from files or pulled from its export
API since a watermark (api.py)."""
from connectors.source import Source

SOURCE = Source("optima", "Выгрузки ЕИС «ОПТИМА»: получатели, оценка нуждаемости, дополнения к ИППСУ, отчёты помощников",
                "records", (".zip",), "30 2 * * *", "connectors.optima.bundle", order=3)
