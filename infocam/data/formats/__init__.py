"""Readers (and, for tests and demos, writers) of the datasets' official on-disk formats."""
