"""Field collection: ODK Collect, KoboCollect and Tella submit encrypted forms to a per-device
OpenRosa URL; submissions are decrypted on arrival and wait in their documenter's field inbox
until they are turned into cases (design.md §10)."""
