"""WSGI entry point for external servers (gunicorn wsgi:app). Loads the keys at import, so a
server without its key refuses to start."""

import os

from casebook import create_app

os.umask(0o077)

app = create_app()
app.extensions["casebook.vault"].load()
