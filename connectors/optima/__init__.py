"""ЕИС «ОПТИМА» exports: bundles of CSV tables (bundle.py), landed from files or pulled from its export
API since a watermark (api.py)."""
from connectors.source import Entity, Source

# The staging tables it fills, each with its natural key (SQL over its staging row): the current layer
# (register.cur_<entity>) keeps one version per key; deletable: the source withdraws keys.
ENTITIES = (
    Entity('optima_recipient', 'recipient_id', deletable=True, note='the recipient card'),
    Entity('optima_assessment', 'assessment_id', deletable=True),
    Entity('optima_supplement', 'supplement_id', deletable=True, note='the supplement to the ИППСУ'),
    Entity('optima_contract', 'contract_id', deletable=True),
    Entity('optima_care_report', 'report_id', deletable=True, note="the care assistant's monthly report"),
    Entity('optima_staff', 'staff_id', deletable=True),
    Entity('optima_rental', 'rental_id', deletable=True),
    Entity('optima_care_school', 'training_id', deletable=True),
    Entity('optima_deletion', None, note='deletions.csv: keys the export withdrew (register.cur_deletion)'),
)

SOURCE = Source("optima", "Выгрузки ЕИС «ОПТИМА»: получатели, оценка нуждаемости, дополнения к ИППСУ, отчёты помощников",
                "records", ENTITIES, (".zip",), "30 2 * * *", "connectors.optima.bundle", order=3)
