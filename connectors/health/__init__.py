"""Health-ministry extracts: referrals of medical organisations and medical events (CSV, XLSX) and ОМС
registers (XML), landed set-based (tables.py, oms.py)."""
from connectors.source import Source

SOURCE = Source("health", "Выгрузки Минздрава: направления медорганизаций и медицинские события (CSV, XLSX, реестры ОМС)",
                "tables", (".csv", ".txt", ".xlsx", ".xlsm", ".xml"), "0 * * * *", "connectors.health.tables", order=1)
