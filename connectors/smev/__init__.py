"""SMEV 3: ЕПГУ applications, disability data (ФРИ), death records (ЗАГС) as messages (messages.py),
pulled from an SMEV adapter and acknowledged (transport.py)."""
from connectors.source import Source

SOURCE = Source("smev", "СМЭВ 3: заявления ЕПГУ, сведения ФРИ, записи ЗАГС о смерти", "records", (".xml",),
                "*/15 * * * *", "connectors.smev.messages", order=2)
