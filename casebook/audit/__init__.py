"""The hash-chained, append-only audit log (design.md §5)."""
