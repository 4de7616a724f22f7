"""ЕГИССО, the federal system of social protection data: the register's packages to it (10.42.I, the
register of recipients of social services) and its processing protocols back (documents.py), against
the published schemas kept in xsd/. Not a source: it declares no SOURCE, and nothing is landed from it."""
