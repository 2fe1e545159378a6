"""One module per CLI command; see publish.cli."""
