"""Duplicate detection and list matching that understand Arabic names (Splink on DuckDB)."""
