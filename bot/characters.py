"""Outside text as a reader sees it, and as the search compares it. Pure.

The one place that decides what characters mean: every piece of outside text (article,
question from any surface, file name, log line) passes through here, never through a
filter of its own elsewhere.

Text from outside the bot (articles, questions, file names, admin commands, whatever a library
logs) can carry characters nobody sees: control characters, a newline that starts a forged log
line, an ESC sequence that retitles a terminal, a right-to-left override that makes
"name\\u202egnp.txt" show as "nametxt.png". Two filters, one for each use:

- `visible`: content to be searched and quoted (article text, questions). Control characters and
  odd spaces become spaces and invisible format characters are dropped, in NFC, so a soft hyphen
  inside a scraped word does not split it and a question meets an article on the same characters.
- `printable`: names and words to be shown as they are (file names, admin commands, log lines).
  Every character that is not printable is written as its Python escape (`\\n`, `\\x1b`,
  `\\u202e`), so the reader sees that it is there instead of what it would do.

Two more views for comparing text that a reader would call the same:

- `plain`: curly quotes, the dashes and minus signs, odd spaces, full-width % and £ as their plain
  forms, one character for one, so offsets in the result are offsets in the original (the
  analyzer's view: highlights point into the text as shown).
- `fold`: `plain`, case-folded, whitespace collapsed (for patterns and phrase checks).
"""

from __future__ import annotations

import re
import unicodedata

# What a reader cannot see: control characters, line and paragraph separators, spaces other than
# the plain one, invisible format characters (soft hyphen, zero-width space, joiners, BOM, direction
# marks and overrides) and lone surrogates. Unassigned code points are left alone: a newer Unicode
# than Python's may give them a glyph (a new emoji).
_CONTROL = frozenset({"Cc", "Zs", "Zl", "Zp"})  # take up space: written as one
_FORMAT = frozenset({"Cf", "Cs"})  # take up none


class _Visible(dict[int, str]):
    """A `str.translate` table, filled in as characters are met: control characters and odd
    spaces -> a space; invisible format characters (soft hyphen, zero-width space, joiners, BOM,
    direction marks and overrides) and lone surrogates -> nothing; anything else -> itself."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        category = unicodedata.category(ch)
        if category in _FORMAT:
            out = ""
        elif category in _CONTROL and ch != " ":
            out = " "
        else:
            out = ch
        if len(self) < 10_000:  # a text of every character there is must not fill memory
            self[code] = out
        return out


_VISIBLE = _Visible()


def visible(text: str) -> str:
    """`text` as a reader sees it, in NFC: control characters and odd spaces become spaces and
    invisible format characters are dropped.

    A soft hyphen or zero-width space inside a scraped word would otherwise split it for the
    search ("over\\u00adspent" is not found by "overspent"), a decomposed "e\\u0301" would not
    match the "\\u00e9" a question is normalised to, and a control character or a direction
    override in an excerpt would reach Slack and the terminal of whoever runs the CLI."""
    if not text.isprintable():  # nearly every line of an article is: one fast check
        text = text.translate(_VISIBLE)
    return unicodedata.normalize("NFC", text)


class _Printable(dict[int, str]):
    """A `str.translate` table: a character a reader cannot see -> its escape as `repr` writes it
    (`\\n`, `\\x1b`, `\\u202e`); anything else -> itself."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        category = unicodedata.category(ch)
        out = repr(ch)[1:-1] if category in _FORMAT or (category in _CONTROL and ch != " ") else ch
        if len(self) < 10_000:
            self[code] = out
        return out


_PRINTABLE = _Printable()


def printable(text: str) -> str:
    """`text` on one line with every character a reader would not see written as an escape:
    "a\\nb" -> "a\\\\nb", "name\\u202egnp.txt" -> "name\\\\u202egnp.txt". Text that is all printable
    comes back as it is (one fast check). The characters are the ones `visible` removes."""
    if text.isprintable():
        return text
    return text.translate(_PRINTABLE)


# One character for one, so offsets in the plain text are offsets in the original.
_PLAIN = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\ufe63": "-", "\uff0d": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2007": " ",
    "\uff05": "%", "\uffe1": "\u00a3",
}  # fmt: skip
# Replacing just the characters found is several times faster than str.translate with a dict,
# which looks up every character of a text that is not pure ASCII (a curly apostrophe will do).
_TO_PLAIN = re.compile("[" + re.escape("".join(_PLAIN)) + "]")


def _plain_one(match: re.Match[str]) -> str:
    return _PLAIN[match.group()]


def plain(text: str) -> str:
    """`text` with plain quotes, hyphens, spaces, % and \u00a3, one character for one (itself when
    it has none to change): "CCGs\u2019 2017\u201318" -> "CCGs' 2017-18"."""
    return _TO_PLAIN.sub(_plain_one, text)


def fold(text: str) -> str:
    """`plain`, lower-cased, whitespace collapsed: for pattern matching and phrase checks."""
    return " ".join(plain(text).casefold().split())
