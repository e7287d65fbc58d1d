"""Printable packets for UN mechanisms (WGEID, IIMP) and the case dossier."""
