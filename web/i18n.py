"""Interface language: the signed-in person's choice, then `?lang=`, then the browser, then the default."""

from __future__ import annotations

from flask import Flask, current_app, request, session
from flask_babel import Babel, get_locale, get_timezone
from flask_login import current_user

from forms.dates import moment_text

LANGUAGES = ("zh", "en")
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
HTML_LANG = {"zh": "zh-CN", "en": "en"}


def select_locale() -> str:
    """The language of this request (Flask-Babel's locale selector)."""
    if request.blueprint == "api":  # the REST API: the Accept-Language header alone (no cookie counts there)
        return request.accept_languages.best_match(LANGUAGES) or current_app.config["LIAISON_LOCALE"]
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in LANGUAGES:
        return user_locale
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(LANGUAGES) or current_app.config["LIAISON_LOCALE"]


def current_language() -> str:
    """"zh" or "en": the language this request is rendered in."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else "zh"


def when(value, part: str | None = None) -> str:
    """A stored moment as every page writes it: in the reader's language and time zone ("2026-12-05 04:32"),
    "" for none. The one helper behind the `when` filter and the blueprints' own time filters."""
    return moment_text(value, current_language(), get_timezone(), part=part)


def when_span(start, end) -> str:
    """A slot: "2026-12-21 14:00 – 15:30", the date once when both ends fall on the reader's same day."""
    lang, zone = current_language(), get_timezone()
    same_day = moment_text(start, lang, zone, part="date") == moment_text(end, lang, zone, part="date")
    return f"{when(start)} – {when(end, 'time') if same_day else when(end)}"


def _remember_lang_parameter() -> None:
    lang = request.args.get("lang")
    if lang in LANGUAGES and session.get("lang") != lang:
        session["lang"] = lang


def init_app(app: Flask, default_locale: str, timezone: str) -> None:
    """Install Flask-Babel with Liaison's locale selection and the `?lang=` switch."""
    if default_locale not in LANGUAGES:
        default_locale = "zh"
    app.config["LIAISON_LOCALE"] = default_locale
    app.config.setdefault("BABEL_DEFAULT_LOCALE", default_locale)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", timezone)
    Babel(app, locale_selector=select_locale)
    app.before_request(_remember_lang_parameter)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, LANGUAGE_NAMES=LANGUAGE_NAMES, HTML_LANG=HTML_LANG,
                                 current_language=current_language, when=when)
    app.jinja_env.filters["when"] = when
