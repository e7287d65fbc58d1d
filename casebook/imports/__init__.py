"""Bulk import of cases from CSV, XLSX and JSON lines (DESIGN §8)."""
