"""ЕИС «ОПТИМА» exports: bundles of CSV tables (bundle.py), landed from files or pulled from its export
API since a watermark (api.py)."""
from connectors.source import Entity, Source

# The staging tables it fills, each with its natural key (SQL over its staging row): the current layer
# (register.cur_<entity>) keeps one version per key; deletable: the source withdraws keys.
ENTITIES = (
    Entity('optima_recipient', 'recipient_id', deletable=True, note='the recipient card'),
    Entity('optima_assessment', 'assessment_id', deletable=True),
    Entity('optima_supplement', 'supplement_id', deletable=True, note='the supplement to the ИППСУ'),
    # a supplement's services are a set: the export that carried the latest of them carries them all
    # (register.int_supplement_service keeps that export's rows only)
    Entity('optima_supplement_service', "supplement_id || '/' || service_code", deletable=True,
           note="a care service of a supplement, with its schedule"),
    Entity('optima_ippsu', 'ippsu_id', deletable=True, note='the individual programme of social services'),
    Entity('optima_provider', 'provider_id', deletable=True, note='a provider of social services'),
    Entity('optima_contract', 'contract_id', deletable=True),
    Entity('optima_care_report', 'report_id', deletable=True, note="the care assistant's monthly report"),
    Entity('optima_staff', 'staff_id', deletable=True),
    Entity('optima_rental', 'rental_id', deletable=True),
    Entity('optima_care_school', 'training_id', deletable=True),
    Entity('optima_deletion', None, note='deletions.csv: keys the export withdrew (register.cur_deletion)'),
)

SOURCE = Source("optima", "Выгрузки ЕИС «ОПТИМА»: получатели, оценка нуждаемости, ИППСУ и дополнения к ним, "
                "поставщики, отчёты помощников",
                "records", ENTITIES, (".zip",), "30 2 * * *", "connectors.optima.bundle", order=3)
