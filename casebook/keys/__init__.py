"""Data keys of cases: wrapped DEKs, rotation, rewrap and crypto-shredding."""
