"""Bulk import of cases from CSV, XLSX and JSON lines (design.md §8)."""
