"""The seal page's confirmation and the unseal page's passphrase (Flask-WTF: CSRF on both)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length


class SealForm(FlaskForm):  # type: ignore[misc]
    """Only the CSRF token: the page itself is the confirmation, the button the one click."""


class UnsealForm(FlaskForm):  # type: ignore[misc]
    passphrase = PasswordField(
        _l("Unlock passphrase"), validators=[DataRequired(), Length(max=1024)]
    )
