"""SMEV 3: ЕПГУ applications, disability data (ФРИ), death records (ЗАГС) as messages (messages.py),
pulled from an SMEV adapter and acknowledged (transport.py)."""
from connectors.source import Entity, Source

# The staging tables it fills, each with its natural key (SQL over its staging row): the current layer
# (register.cur_<entity>) keeps one version per key; deletable: the source withdraws keys.
ENTITIES = (
    Entity('smev_application', 'coalesce(order_uuid, message_id)', note='the ЕПГУ order id (a message id where the order has none)'),
    Entity('smev_death', 'record_number', note='the ЗАГС act record number: a corrected record replaces the earlier'),
    Entity('smev_disability', 'coalesce(snils, extract_id)', note="a person's ФРИ extract: a later one replaces the earlier"),
)

SOURCE = Source("smev", "СМЭВ 3: заявления ЕПГУ, сведения ФРИ, записи ЗАГС о смерти", "records", ENTITIES, (".xml",),
                "*/15 * * * *", "connectors.smev.messages", order=2)
