"""Health-ministry extracts: referrals of medical organisations and medical events (CSV, XLSX) and ОМС
registers (XML), landed set-based (tables.py, oms.py)."""
from connectors.source import Entity, Source

# The staging tables it fills, each with its natural key (SQL over its staging row): the current layer
# (register.cur_<entity>) keeps one version per key; deletable: the source withdraws keys.
ENTITIES = (
    Entity('health_referral', "mo_code || '/' || referral_id", note="a referral is its medical organisation's number"),
    Entity('health_medical_event', "mo_code || '/' || event_id", note='an ОМС case is LPU + IDCASE: a resubmission (PR_NOV = 1, a later register) replaces it'),
)

SOURCE = Source("health", "Выгрузки Минздрава: направления медорганизаций и медицинские события (CSV, XLSX, реестры ОМС)",
                "tables", ENTITIES, (".csv", ".txt", ".xlsx", ".xlsm", ".xml"), "0 * * * *", "connectors.health.tables", order=1)
