"""WSGI entry point for external servers (gunicorn wsgi:app). Loads the keys at import, so a
server without its key refuses to start."""

import os

from casebook import create_app
from casebook.cli import warn_if_role_controls_audit_log

os.umask(0o077)

app = create_app()
app.extensions["casebook.vault"].load()
with app.app_context():
    warn_if_role_controls_audit_log(app.extensions["casebook.db"])  # a log line, not a refusal
