"""HTML forms (Flask-WTF: CSRF token on every form). Shape only; rules live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange

from casebook.auth.permissions import Role
from casebook.ui import ROLE_LABELS


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class CodeForm(FlaskForm):  # type: ignore[misc]
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(), Length(max=32)],
    )
    next = HiddenField()


class ReauthForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(), Length(max=32)],
    )
    next = HiddenField()


class PasswordChangeForm(FlaskForm):  # type: ignore[misc]
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=1024)]
    )
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])
    confirm_password = PasswordField(
        _l("New password again"), validators=[DataRequired(), Length(max=1024)]
    )


class LanguageForm(FlaskForm):  # type: ignore[misc]
    lang = HiddenField(validators=[DataRequired()])
    next = HiddenField()


class EmptyForm(FlaskForm):  # type: ignore[misc]
    """A form with only its CSRF token, for buttons (sign out, disable, revoke)."""


ROLE_CHOICES = [SelectChoice(r.value, ROLE_LABELS.get(r.value, r.value)) for r in Role]


class UserCreateForm(FlaskForm):  # type: ignore[misc]
    """Only shape here: `user_create` checks every rule and reports every problem at once."""

    email = EmailField(_l("Email"), validators=[Length(max=254)])
    display_name = StringField(_l("Name"), validators=[Length(max=500)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    language = SelectField(
        _l("Language"), choices=[SelectChoice("ar", "العربية"), SelectChoice("en", "English")]
    )


class RoleForm(FlaskForm):  # type: ignore[misc]
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class TokenForm(FlaskForm):  # type: ignore[misc]
    days = IntegerField(_l("Valid for (days)"), default=90, validators=[NumberRange(1, 366)])
