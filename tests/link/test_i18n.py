"""The Babel catalogs cover every message of the templates, in English and French, with the same placeholders."""

from __future__ import annotations

import logging
import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bankfeeds.link import i18n
from bankfeeds.link.endpoints import RedactOtp

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def template_messages() -> set[str]:
    found = extract_from_dir(
        str(i18n.HERE),
        method_map=[("templates/**.html", "jinja2")],
        options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def test_every_message_is_translated_in_both_catalogs() -> None:
    messages = template_messages()
    assert len(messages) > 30
    for lang in i18n.LANGUAGES:
        with i18n.catalog_path(lang).open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        translated = {m.id: m.string for m in catalog if m.id and not m.fuzzy}
        missing = sorted(messages - {k for k, v in translated.items() if v})
        assert not missing, f"{lang}: no translation for {missing}"
        for msgid in messages:
            assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(str(translated[msgid]))), (lang, msgid)


def test_french_is_really_french() -> None:
    fr = i18n.translations("fr")
    assert fr.gettext("Get credentials") == "Obtenir des identifiants"
    assert fr.gettext("Revoke credentials") == "Révoquer les identifiants"
    assert fr.gettext("Cancel") == "Annuler"
    assert i18n.translations("en").gettext("Get credentials") == "Get credentials"


def test_language_choice() -> None:
    assert i18n.choose("fr", "en", "en") == "fr"
    assert i18n.choose("de", "fr", "en") == "fr"
    assert i18n.choose(None, None, "de-DE, fr-CA;q=0.8, en;q=0.5") == "fr"
    assert i18n.choose(None, None, "en;q=0.1, fr;q=0") == "en"
    assert i18n.choose(None, "xx", "garbage;;;,,") == "en"
    assert i18n.choose("FR", None, None) == "fr"


def test_access_logs_do_not_carry_the_otp() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/link/companies/x/connections/y/start?otp=AB12CD&lang=fr",
                                "1.1", 303), None)
    assert RedactOtp().filter(record)
    assert "AB12CD" not in record.getMessage() and "otp=[redacted]&lang=fr" in record.getMessage()
