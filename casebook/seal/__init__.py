"""Sealing: one action makes every running casebook process forget its keys until someone with
the unlock secret unseals it (SECURITY.md, "Sealing")."""
