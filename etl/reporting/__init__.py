"""Reports for the RKC from the published marts."""
