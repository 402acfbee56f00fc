"""pbgrade in Chinese: the catalogue has every string the source marks, with the same placeholders;
the language comes from --lang, else the settings; a catalogue is read as translators write it."""
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from conftest import ROOT
from pbgrade import cli, i18n

SOURCE = ROOT / "host" / "pbgrade"
PLACEHOLDER = re.compile(r"{[^{}]*}")


def untranslated(source, language):
    """The marked strings of source (_(), N_(), ngettext()) that language's catalogue lacks, leaves empty or
    fuzzy, or translates with other {placeholders}: what `make translations` and a translator must fix."""
    path = i18n.LOCALE_DIR / i18n.LANGUAGES[language] / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as po:
        catalogue = read_po(po)
    problems = []
    for filename, line, text, *_ in extract_from_dir(source, [("**.py", "python")]):
        for msgid in (text[:1] if isinstance(text, tuple) else (text,)):  # a plural's entry: its singular
            entry = catalogue.get(msgid)
            translations = entry and (entry.string if isinstance(entry.string, tuple) else (entry.string,))
            if not entry or entry.fuzzy or not all(translations):
                problems.append(f"{filename}:{line}: {msgid!r} has no {language} translation")
            elif any(sorted(PLACEHOLDER.findall(t)) != sorted(PLACEHOLDER.findall(msgid)) for t in translations):
                problems.append(f"{filename}:{line}: {msgid!r}: the {language} translation has other placeholders")
    return problems


def test_every_marked_string_has_its_chinese_translation():
    assert untranslated(SOURCE, "zh-CN") == []


def test_an_untranslated_or_misplaced_string_is_found(tmp_path):
    (tmp_path / "shown.py").write_text('from .i18n import _\nprint(_("a string no translator has seen {n}"))\n')
    assert untranslated(tmp_path, "zh-CN") == [
        "shown.py:2: 'a string no translator has seen {n}' has no zh-CN translation"]


@pytest.fixture
def catalogue(monkeypatch, tmp_path):
    """A zh_CN catalogue of this test's own, as a translator writes it."""
    folder = tmp_path / "zh_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "pbgrade.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        'msgid "Rated capacity"\nmsgstr "额定容量"\n\n'
        'msgid "{n} sample lost"\nmsgid_plural "{n} samples lost"\nmsgstr[0] "丢失 {n} 个样本"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.catalogue.cache_clear()
    yield
    i18n.catalogue.cache_clear()
    i18n.use(i18n.SOURCE_LANGUAGE)


def test_a_catalogue_translates_and_english_is_the_source(catalogue):
    i18n.use("zh-CN")
    assert (i18n._("Rated capacity"), i18n.ngettext("{n} sample lost", "{n} samples lost", 3)) == (
        "额定容量", "丢失 {n} 个样本")
    assert i18n._("not in the catalogue") == "not in the catalogue" and i18n.locale() == "zh_CN"
    i18n.use("en")
    assert (i18n._("Rated capacity"), i18n.ngettext("{n} sample lost", "{n} samples lost", 3)) == (
        "Rated capacity", "{n} samples lost")


def test_the_language_is_the_flag_before_or_after_the_command_else_the_settings(catalogue, monkeypatch, tmp_path):
    monkeypatch.setenv("PBGRADE_CONFIG", str(tmp_path))
    assert cli.main(["config"]) == 0 and i18n.language() == "en"
    (tmp_path / "settings.toml").write_text('language = "zh-CN"\n')
    assert cli.main(["config"]) == 0 and i18n.language() == "zh-CN"
    assert cli.main(["--lang", "en", "config"]) == 0 and i18n.language() == "en"
    assert cli.main(["config", "--lang", "en"]) == 0 and i18n.language() == "en"
    assert cli.main(["--lang", "en", "config", "--lang", "zh-CN"]) == 0 and i18n.language() == "zh-CN"
