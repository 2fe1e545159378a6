"""IPA inspection and pre-flight checks. Imports nothing else of the project."""
