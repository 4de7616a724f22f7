"""Development tools, apart from production paths: the sample-data generator, the demo and the
evaluation against generated truth."""
