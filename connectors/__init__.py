"""Source connectors: fetch and parse one source system each into typed records."""
