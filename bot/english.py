"""Words of English: whether a word the knowledge base lacks is a word at all, or a slip. Read once.

The list is pyspellchecker's English word list (MIT; about 160,000 words with their frequencies in
a large body of English text, shipped gzipped inside its package and read offline). Only the words
are kept, lower-cased, as a frozenset (about 15 MB); it is read on first use, about 0.3 s.
"""

from __future__ import annotations

import functools


@functools.cache
def words() -> frozenset[str]:
    """Every word in the list, lower-cased."""
    from spellchecker import SpellChecker  # imported here: its list is read only when needed

    return frozenset(w.casefold() for w in SpellChecker(language="en", distance=1).word_frequency)
