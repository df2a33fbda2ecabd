"""Outside text as a reader sees it. Pure: two filters every piece of outside text passes through.

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
"""

from __future__ import annotations

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
