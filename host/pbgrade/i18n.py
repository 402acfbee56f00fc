"""The languages pbgrade speaks to people: English, as the source is written, and Chinese, because the
inspectors and the standards they apply (GB/T 35590: 额定容量, 转换效率) work in Chinese.

A translation lives in a gettext catalogue, locale/zh_CN/LC_MESSAGES/pbgrade.po, which Babel reads as it
is: the .po is the one file a translator edits, nothing is compiled in the checkout, and
`make translations` brings it in step with the strings the source marks.

    from .i18n import _
    use("zh-CN")
    _("Rated capacity")   # 额定容量

_() translates where a text is shown; N_() marks a text kept in a table for translation when shown.
One language per process: a station speaks to its operators in one.
"""
import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = {"en": "en", "zh-CN": "zh_CN"}  # --lang: its Babel locale, which names its catalogue's folder
SOURCE_LANGUAGE = "en"
DOMAIN = "pbgrade"
LOCALE_DIR = Path(__file__).parent / "locale"

_translations = gettext.NullTranslations()
_language = SOURCE_LANGUAGE


def use(language):
    """Speak `language` (a key of LANGUAGES) from now on."""
    global _translations, _language
    _translations = gettext.NullTranslations() if language == SOURCE_LANGUAGE else catalogue(language)
    _language = language


def language():
    return _language


def locale():
    """The Babel locale of the language in use: for dates and numbers written its way (babel.dates)."""
    return LANGUAGES[_language]


def _(text):
    return _translations.gettext(text)


def ngettext(singular, plural, n):
    return _translations.ngettext(singular, plural, n)


def N_(text):
    return text


@cache
def catalogue(language):
    """The language's catalogue, read from its .po (through an in-memory .mo: gettext's own lookup and
    plural rules, no build step)."""
    path = LOCALE_DIR / LANGUAGES[language] / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        messages = read_po(po, locale=LANGUAGES[language], domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, messages)
    mo.seek(0)
    return gettext.GNUTranslations(mo)
