"""Anonymised statistics: counts (never rows) with disclosure control, optional DP releases."""
