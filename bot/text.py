"""The analyzer: text -> search terms. Pure; the same code reads articles and questions.

- Unicode: curly quotes, the dashes and minus signs, odd spaces are made plain
  (`bot.characters.plain`: one character for one, so term offsets point into the original text
  for highlighting); NFKC per token.
- Figures stay whole: `2017-18` = `2017/18` = `2017-2018` = `17/18`, `£213m` = `£213 million` = `213m`,
  `36%` = `36 per cent`, `5.7`, `1,000` = `1000`; number words count (`Thirty-six per cent`).
  An amount of millions or billions to two decimals also gives its one-decimal rounding
  (`£1.21 billion` also gives `1.2bn`), as articles and questions round differently.
- Words are case-folded, English stop words dropped, Snowball-stemmed (PyStemmer), with a few
  irregular verbs the stemmer misses (`overspent` = `overspend`).
- Acronyms are kept unstemmed and singular (`ICSs` = `ICS`), and those the corpus defines, as in
  "Integrated Care Systems (ICSs)", also match their long form: where the long form occurs,
  the acronym's term is added.
- Synonyms from an editable file are applied to questions only (`Synonyms.expand`), both ways
  ('councils = local authorities') or one way ('in the red => overspend').
- Two concepts stand for the kind of figure a question asks for: every percentage also gives
  the term `%` (as do "percentage" and "proportion"), and every year also gives `#year`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain, compress, repeat
from operator import not_
from typing import NamedTuple, cast

import Stemmer

from bot.characters import plain

# Possessive (++, *+, ?+): no part of a token ever has to give a character back for the rest to
# match, so the tokens are the same, found with less bookkeeping. The alternatives cannot start
# with the same character, so their order only matters for speed: words are the most common.
_NUMBER = r"[£$€]?\d++(?:[.,]\d++)*+(?:[-/]\d++)?+%?+(?:[^\W\d_]++)?+"
_WORD = r"[^\W\d_]++(?:['-][^\W\d_]++)*+"
_TOKEN = re.compile(rf"{_WORD}|{_NUMBER}|%")
_GROUP = re.Match.group
# Every percentage also stands for the idea "a percentage", which questions ask for without a
# figure: "what % of...", "what proportion of...".
PERCENT = "%"
# Likewise every year ("2008", "2017-18") stands for "a year", which "when" questions ask for.
YEAR = "#year"
_YEAR = re.compile(r"^(?:19|20)\d\d(?:-\d\d)?$")
CONCEPTS = frozenset({PERCENT, YEAR})
_PERCENT_WORDS = frozenset({"percent", "percentage", "percentages", "proportion", "proportions"})
_ACRONYM_SHAPE = re.compile(r"^[A-Z][A-Z&]{1,5}s?$")
_YEAR_RANGE = re.compile(r"^(\d{4})[-/](\d{2}|\d{4})$")
# A financial year written short, "17/18" or "17-18": two consecutive two-digit years.
_SHORT_YEAR_RANGE = re.compile(r"^(\d{2})[-/](\d{2})$")
# An amount of millions or billions with two or more decimals: "1.21bn", "2.345m".
_PRECISE_AMOUNT = re.compile(r"^(\d+)\.(\d{2,})(m|bn|tn)$")
_TENTH = Decimal("0.1")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_CACHE_WORDS = 200_000  # words whose terms an analyzer remembers (about 30 MB)
_DIGITS = re.compile(r"\d+(?:\.\d+)?(?:[-/]\d+)?")
# Words of 2 to 7 lower-case letters, and words written like acronyms ("NHS", "ICSs", "A&E"):
# each pattern starts with a letter and only then looks behind it, so a search skips to letters.
_LOWER_WORD = re.compile(r"[a-z](?<!\w[a-z])[a-z]{1,6}+(?!\w)")
_ACRONYM = re.compile(r"[A-Z](?<![\w&][A-Z])[A-Z&]{1,5}s?(?![\w&])")

_SCALE = {
    "m": "m", "million": "m", "millions": "m", "mn": "m",
    "bn": "bn", "b": "bn", "billion": "bn", "billions": "bn",
    "k": "k", "thousand": "k", "thousands": "k", "tn": "tn", "trillion": "tn",
}  # fmt: skip
_UNITS = """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen""".split()
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
NUMBER_WORDS = {w: i for i, w in enumerate(_UNITS)} | {w: 20 + 10 * i for i, w in enumerate(_TENS)}

# The Snowball English stop list, plus words that only make a question chatty.
STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did doing
    would should could ought i'm you're he's she's it's we're they're i've you've we've they've
    i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll they'll isn't aren't wasn't
    weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't shan't shouldn't can't
    cannot couldn't mustn't let's that's who's what's here's there's when's where's why's how's
    a an the and but if or because as until while of at by for with about against between into
    through during before after above below to from up down in out on off over under again
    further then once here there when where why how all any both each few more most other some
    such no nor not only own same so than too very also just will can may might must shall us
    etc tell know please thanks thank hi hello hey anyone anybody someone somebody say said says
    saying whats dont doesnt didnt isnt im ive get got like really actually much many yes yeah
    ok okay pls plz think whether ever now even else maybe perhaps anything something everything
    go goes going gone went become becomes became
    """.split()
)
# Past forms the stemmer cannot join to their verb.
IRREGULAR = {
    "spent": "spend", "overspent": "overspend", "underspent": "underspend", "paid": "pay",
    "underpaid": "underpay", "overpaid": "overpay", "cut": "cut", "sold": "sell", "bought": "buy",
    "built": "build", "lost": "lose", "won": "win", "left": "leave", "led": "lead", "met": "meet",
    "fell": "fall", "fallen": "fall", "rose": "rise", "risen": "rise", "grew": "grow",
    "grown": "grow", "gave": "give", "given": "give", "took": "take", "taken": "take",
    "began": "begin", "begun": "begin", "brought": "bring", "thought": "think", "found": "find",
    "held": "hold", "kept": "keep", "made": "make", "sought": "seek", "set": "set",
}  # fmt: skip

_MINOR = frozenset({"of", "and", "for", "the", "&", "in", "on", "to", "a"})


class Term(NamedTuple):
    """A search term and the character span of the text it came from."""

    text: str
    start: int
    end: int
    long_form: int = 0  # for an acronym added where its long form occurs: the long form's length


_new_term = tuple.__new__  # makes a Term without the Python code of NamedTuple's __new__


@dataclass
class Analyzer:
    """Turns text into search terms. Build one per index; it knows the corpus's acronyms."""

    acronyms: frozenset[str] = frozenset()  # lower-case acronym terms ("ics", "nhse")
    long_forms: Mapping[tuple[str, ...], str] = field(default_factory=dict)  # terms -> acronym
    learned: bool = False  # whether `acronyms` came from a corpus (else any capitalised word is one)
    _stemmer: Stemmer.Stemmer = field(init=False, repr=False)
    _cache: dict[str, tuple[str, ...]] = field(init=False, repr=False)
    _heads: dict[str, list[tuple[tuple[str, ...], str]]] = field(init=False, repr=False)
    _long_form_acronyms: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Without PyStemmer's own cache: `_cache` keeps every word's terms already, and a cache
        # that nearly always misses (a word reaches the stemmer once) made stemming five times slower.
        self._stemmer = Stemmer.Stemmer("english", 0)
        self._cache = {}
        heads: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for form, acronym in self.long_forms.items():
            heads.setdefault(form[0], []).append((form, acronym))
        for forms in heads.values():
            forms.sort(key=lambda f: -len(f[0]))  # longest match first
        self._heads = heads
        self._long_form_acronyms = frozenset(self.long_forms.values())

    @classmethod
    def for_corpus(cls, texts: Iterable[str], extra_acronyms: Iterable[str] = ()) -> Analyzer:
        """An analyzer that knows the acronyms used and defined in `texts`."""
        facts = CorpusFacts()
        for text in texts:
            facts.add(text_facts(text))
        return facts.analyzer(extra_acronyms)

    def terms(self, text: str) -> list[str]:
        """The search terms of `text`, in order: the texts of `spans(text)`, found faster."""
        looked, _ = self._token_terms(_TOKEN.findall(plain(text)))
        out = list(chain.from_iterable(looked))
        ends = self._long_forms_in(out) if self._heads else None
        if not ends:
            return out
        with_acronyms: list[str] = []
        for i, term in enumerate(out):
            with_acronyms.append(term)
            with_acronyms.extend(acronym for acronym, _ in ends.get(i, ()))
        return with_acronyms

    def spans(self, text: str) -> list[Term]:
        """The search terms of `text` with the character span each came from."""
        matches = list(_TOKEN.finditer(plain(text)))
        looked, lasts = self._token_terms(list(map(_GROUP, matches)))
        out: list[Term] = []
        for i in compress(range(len(looked)), looked):  # the tokens that have terms
            start, end = matches[i].start(), matches[lasts.get(i, i)].end()
            for term in looked[i]:
                out.append(_new_term(Term, (term, start, end, 0)))  # Term(term, start, end), faster
        ends = self._long_forms_in(list(chain.from_iterable(looked))) if self._heads else None
        if not ends:
            return out
        with_acronyms: list[Term] = []
        for i, span in enumerate(out):
            with_acronyms.append(span)
            for acronym, n in ends.get(i, ()):
                with_acronyms.append(Term(acronym, out[i - n + 1].start, span.end, n))
        return with_acronyms

    def highlights(self, text: str, wanted: AbstractSet[str]) -> list[tuple[int, int]]:
        """`[(t.start, t.end) for t in spans(text) if t.text in wanted]`, without making a
        `Term` for every word: the words to highlight in a passage shown for a question."""
        return [(start, end) for start, end, _ in self.found(text, wanted)]

    def found(self, text: str, wanted: AbstractSet[str]) -> list[tuple[int, int, str]]:
        """Where each of the `wanted` terms stands in `text`: (start, end, term), as `highlights`."""
        matches = list(_TOKEN.finditer(plain(text)))
        simple = self._long_form_acronyms.isdisjoint(wanted)
        looked, lasts = self._token_terms(list(map(_GROUP, matches)), _may_give(wanted) if simple else None)

        def span(i: int) -> tuple[int, int]:  # of the terms of token i
            return matches[i].start(), matches[lasts.get(i, i)].end()

        out: list[tuple[int, int, str]] = []
        if simple:
            found = map(not_, map(wanted.isdisjoint, looked))
            for i in compress(range(len(looked)), found):  # the tokens with a wanted term
                start, end = span(i)
                out.extend((start, end, term) for term in looked[i] if term in wanted)
            return out
        # A wanted acronym also stands where its long form occurs, which takes every term.
        terms = list(chain.from_iterable(looked))
        tokens = list(chain.from_iterable(map(repeat, range(len(looked)), map(len, looked))))  # of each term
        ends = self._long_forms_in(terms)
        for i, term in enumerate(terms):
            if term in wanted:
                out.append((*span(tokens[i]), term))
            for acronym, n in ends.get(i, ()):
                if acronym in wanted:
                    out.append((span(tokens[i - n + 1])[0], span(tokens[i])[1], acronym))
        return out

    def _token_terms(
        self, tokens: list[str], may_give: Callable[[str], bool] | None = None
    ) -> tuple[list[tuple[str, ...]], dict[int, int]]:
        """The terms of each token; and the first token -> the last of each figure that takes
        more than one ("£5.7 billion"), whose later tokens have no terms of their own.

        Most tokens are words seen before: they are looked up in the cache all at once, and
        only the others (figures, number words, new words) are analysed one by one. A new word
        for which `may_give` is false is given no terms instead: the caller wants none of its."""
        looked = list(map(self._cache.get, tokens))
        looked.append(None)  # a stop for the search below
        lasts: dict[int, int] = {}
        n = len(tokens)
        i = looked.index(None)
        while i < n:
            figure = _figure_terms(tokens, i)
            if figure is None:
                looked[i] = self._word(tokens[i]) if may_give is None or may_give(tokens[i]) else ()
                i += 1
            else:
                looked[i], used = figure
                if used > 1:
                    lasts[i] = i + used - 1
                    looked[i + 1 : i + used] = [()] * (used - 1)
                i += used
            i = looked.index(None, i)
        looked.pop()
        return cast("list[tuple[str, ...]]", looked), lasts  # no None left

    def _word(self, token: str) -> tuple[str, ...]:
        """The terms of a word that is not a figure or number word, which depend on it alone."""
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        result = self._analyze_word(token)
        if len(self._cache) >= _CACHE_WORDS:
            # Full: start again, so the cache holds the words in use now (those of the passages
            # being shown), not forever the first 200,000 words an index build came across.
            self._cache.clear()
        self._cache[token] = result
        return result

    def _analyze_word(self, token: str) -> tuple[str, ...]:
        token = unicodedata.normalize("NFKC", token)
        if "-" in token:
            parts = [p for p in token.split("-") if p]
            terms = [t for p in parts for t in self._analyze_word(p)]
            joined = self._analyze_word("".join(parts))
            return tuple(terms + [j for j in joined if j not in terms])
        if _ACRONYM_SHAPE.match(token):
            term = _acronym_term(token)
            # Without corpus knowledge every capitalised word is an acronym; with it, only
            # the corpus's acronyms are ("CUTS" in a headline is the word cuts).
            if term in self.acronyms or (not self.learned and term not in STOP_WORDS):
                return (term,)
        lower = token.casefold()
        if lower.endswith("'s"):
            lower = lower[:-2]
        lower = lower.strip("'")
        if not lower or lower in STOP_WORDS:
            return ()
        if lower in _PERCENT_WORDS:
            return (PERCENT,)
        singular = lower[:-1] if lower.endswith("s") else lower
        if lower in self.acronyms:
            return (lower,)
        if singular in self.acronyms and len(singular) >= 2:
            return (singular,)
        lower = IRREGULAR.get(lower, lower)
        if len(lower) == 1:
            return ()
        return (self._stemmer.stemWord(lower),)

    def _long_forms_in(self, terms: list[str]) -> dict[int, list[tuple[str, int]]]:
        """Where long forms of the corpus's acronyms end in `terms`: the index of a long form's
        last term -> (its acronym, its number of terms)."""
        heads = self._heads
        ends: dict[int, list[tuple[str, int]]] = {}
        if heads.keys().isdisjoint(terms):  # nearly every text: no long form can start
            return ends
        for i, term in enumerate(terms):
            for form, acronym in heads.get(term, ()):
                n = len(form)
                if tuple(terms[i : i + n]) == form:
                    ends.setdefault(i + n - 1, []).append((acronym, n))
                    break
        return ends


def _may_give(wanted: AbstractSet[str]) -> Callable[[str], bool]:
    """Whether a word (not a figure or number word) may have one of the `wanted` terms, for
    skipping the analysis of words that cannot. A plain ASCII word's terms all start with its
    own first letter, lower-cased: its acronym, its stem (Snowball keeps the first letter), its
    irregular verb's base form (IRREGULAR keeps it too). Other words are analysed: hyphenated
    ones (whose parts give terms), ones with an apostrophe, non-ASCII ones (NFKC may change
    a letter), and "percent"-like words, which give %."""
    initials = frozenset(t[0] for t in wanted if t)

    def may_give(word: str) -> bool:
        if not word.isascii() or "-" in word or "'" in word:
            return True
        lower = word.lower()
        return lower[0] in initials or lower in _PERCENT_WORDS

    return may_give


def _acronym_term(word: str) -> str:
    word = word.replace("&", "")
    if len(word) > 2 and word.endswith("s") and word[:-1].isupper():
        word = word[:-1]
    return word.lower()


def _figure_terms(tokens: Sequence[str], i: int) -> tuple[tuple[str, ...], int] | None:
    """The terms of the figure or number words starting at tokens[i] and how many tokens they
    take; None when tokens[i] is an ordinary word. That depends on tokens[i] alone (so a word's
    terms can be cached): the tokens after it only add to a figure, as in "£5.7 billion"."""
    token = tokens[i]
    # isdecimal, as \d: "²" is a digit but the word pattern's, not the figure pattern's.
    if token[0].isdecimal() or token[0] in "£$€":
        value, used = _figure(tokens, i)
        if value.endswith(PERCENT):
            return (value, PERCENT), used
        if _YEAR.match(value):
            return (value, YEAR), used
        rounded = _rounded(value)
        return ((value, rounded) if rounded else (value,)), used
    if token == PERCENT:
        return (PERCENT,), 1
    number, used = _number_words(tokens, i)
    if number is None:
        return None
    value, scale_used = _figure([number, *tokens[i + used : i + used + 2]], 0)
    return ((value, PERCENT) if value.endswith(PERCENT) else (value,)), used + scale_used - 1


def _rounded(value: str) -> str | None:
    """An amount of millions or billions given to two or more decimals, to one: articles and
    questions round differently ("£1.21 billion" is asked about as "1.2bn"). None otherwise."""
    match = _PRECISE_AMOUNT.match(value)
    if match is None:
        return None
    whole, decimals, scale = match.groups()
    return f"{Decimal(f'{whole}.{decimals}').quantize(_TENTH, ROUND_HALF_UP)}{scale}"


def _figure(tokens: Sequence[str], i: int) -> tuple[str, int]:
    """Canonical text of the figure starting at tokens[i], and how many tokens it used."""
    token = tokens[i].lstrip("£$€")
    token = _THOUSANDS.sub("", token)
    match = _YEAR_RANGE.match(token)
    if match:
        first, second = match.groups()
        if len(second) == 4 and (second[:2] == first[:2] or int(second) == int(first) + 1):
            second = second[2:]
        return f"{first}-{second}", 1
    match = _SHORT_YEAR_RANGE.match(token)
    if match and (int(match[1]) + 1) % 100 == int(match[2]):  # "3/4" or "11/14" is no financial year
        century = "20" if int(match[1]) < 50 else "19"
        return f"{century}{match[1]}-{match[2]}", 1
    number = _DIGITS.match(token)
    assert number is not None
    digits, suffix = number.group(), token[number.end() :].casefold()
    if suffix == "%":
        return f"{digits}%", 1
    if suffix in _SCALE:
        return digits + _SCALE[suffix], 1
    if suffix:
        return digits + suffix, 1  # "2nd", "1990s": keep as written
    nxt = tokens[i + 1].casefold() if i + 1 < len(tokens) else ""
    if nxt in _SCALE and nxt not in ("m", "b", "k"):  # "£5.7 billion"; not "5 m" (metres)
        return digits + _SCALE[nxt], 2
    if nxt in ("percent", "pc"):
        return f"{digits}%", 2
    if nxt == "per" and i + 2 < len(tokens) and tokens[i + 2].casefold() == "cent":
        return f"{digits}%", 3
    return digits, 1


def _number_words(tokens: Sequence[str], i: int) -> tuple[str | None, int]:
    """'thirty-six' or 'thirty six' -> '36'; None when tokens[i] is not a number word."""
    word = tokens[i].casefold()
    if word.partition("-")[0] not in NUMBER_WORDS:  # nearly every word: one lookup, no split
        return None, 0
    parts = word.split("-")
    if len(parts) > 2 or not all(p in NUMBER_WORDS for p in parts):
        return None, 0
    values = [NUMBER_WORDS[p] for p in parts]
    if len(values) == 2:
        if values[0] < 20 or values[0] % 10 or values[1] >= 10:
            return None, 0
        return str(sum(values)), 1
    value, used = values[0], 1
    if value >= 20 and i + 1 < len(tokens) and 0 < NUMBER_WORDS.get(tokens[i + 1].casefold(), 99) < 10:
        value += NUMBER_WORDS[tokens[i + 1].casefold()]
        used = 2
    return str(value), used


_BRACKETED = re.compile(r"\(([A-Z][A-Za-z&]{1,7})\)")
_WORDS_BEFORE = re.compile(r"(?:[^\W\d_][\w'&-]*\s+){1,10}\Z")
_LOOK_BACK = 400  # characters before a bracket searched for its long form: ten long words and their spaces
_AFTER_LAST_OUTSIDE = re.compile(r".*[^\w'&\s-]", re.DOTALL)  # up to the last character no word has
_RUN = re.compile(r"[\w'&-]+")  # the characters of a word in _WORDS_BEFORE


def find_definitions(text: str) -> list[tuple[list[str], str]]:
    """Acronym definitions such as 'Integrated Care Systems (ICSs)' or 'NHS England (NHSE)':
    (long-form words, acronym) pairs where the words' initials spell the acronym.

    Brackets are found first and only the text just before each is searched for up to ten
    words: one pattern for the whole definition would try ten words at every word of every
    passage, which was most of the time it takes to index a large knowledge base."""
    found = []
    for bracket in _BRACKETED.finditer(text):
        start = bracket.start()
        match = _WORDS_BEFORE.search(text, _words_can_start(text, start), start)
        if match is None:
            continue
        words, acronym = match.group().split(), bracket.group(1)
        letters = acronym[:-1] if len(acronym) > 2 and acronym.endswith("s") else acronym
        if not letters.isupper():
            continue
        long_form = _long_form(words, letters.replace("&", "").lower())
        if long_form:
            found.append((long_form, acronym))
    return found


def _words_can_start(text: str, bracket: int) -> int:
    """Where a match of `_WORDS_BEFORE` ending at `bracket` can start: within `_LOOK_BACK`,
    after the last character no word or space has, at most ten runs of word characters back.
    Searched from there, the match is the same; searched from `_LOOK_BACK` back, the pattern
    tried up to ten words at every character, most of the time `Analyzer.for_corpus` took."""
    start = max(0, bracket - _LOOK_BACK)
    outside = _AFTER_LAST_OUTSIDE.match(text, start, bracket)
    if outside is not None:
        start = outside.end()
    runs = [run.start() for run in _RUN.finditer(text, start, bracket)]
    return runs[-10] if len(runs) > 10 else start


def _long_form(words: Sequence[str], letters: str) -> list[str] | None:
    i, j = len(letters), len(words)
    while i > 0 and j > 0:
        word = words[j - 1].strip("-'")
        lower = word.lower()
        if lower in _MINOR and i < len(letters):
            j -= 1
            continue
        if len(word) > 1 and word.isupper() and letters[:i].endswith(lower):
            i -= len(lower)
        elif lower[:1] == letters[i - 1]:
            i -= 1
        else:
            return None
        j -= 1
    return list(words[j:]) if i == 0 else None


Members = tuple[tuple[str, ...], ...]  # words or phrases, each as analyzed terms


@dataclass(frozen=True)
class Synonyms:
    """Groups of equivalent words or phrases, applied to questions (`expand`).

    A line 'a = b' joins its members both ways. A line 'busted budget, in the red => overspend'
    is one way: a question with a word or phrase on the left also searches for those on the
    right, not the reverse, so everyday words reach the articles' words without every question
    in the articles' words also searching for slang (three more terms that dilute the ranking)."""

    groups: tuple[Members, ...] = ()  # all the members of each group
    # For each group, the members that call it up: all of them, or a one-way line's left side;
    # and those it adds to a question: all of them, or a one-way line's right side.
    triggers: tuple[Members, ...] = ()
    targets: tuple[Members, ...] = ()

    @classmethod
    def parse(cls, text: str, analyzer: Analyzer) -> tuple[Synonyms, list[str]]:
        """Read 'councils = local authorities' lines ('=' or ',' between members, '=>' for one
        way, '#' comments). Returns the synonyms and a warning per line that could not be used."""
        groups, triggers, targets, warnings = [], [], [], []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            left, arrow, right = line.partition("=>")
            sides = [_members(side, analyzer) for side in (left, right)]
            usable = tuple(dict.fromkeys(sides[0] + sides[1]))
            if len(usable) < 2 or (arrow and not (sides[0] and sides[1])):
                warnings.append(
                    f"line {number}: needs two or more words or phrases to join, like 'councils = local authorities'"
                    " or 'town halls => councils'"
                )
                continue
            groups.append(usable)
            triggers.append(tuple(dict.fromkeys(sides[0])) if arrow else usable)
            targets.append(tuple(dict.fromkeys(sides[1])) if arrow else usable)
        return cls(tuple(groups), tuple(triggers), tuple(targets)), warnings

    def found(self, terms: Sequence[str]) -> list[tuple[Members, list[tuple[str, ...]]]]:
        """The groups that `terms` call up, each with the members of it found in them."""
        return [(group, present) for group, present, _ in self._called(terms)]

    def expand(self, terms: Sequence[str]) -> list[str]:
        """`terms` plus the terms of every synonym of a word or phrase found in them."""
        present = set(terms)
        extra: list[str] = []
        for _, _, targets in self._called(terms):
            for member in targets:
                extra.extend(t for t in member if t not in present)
                present.update(member)
        return [*terms, *extra]

    def _called(self, terms: Sequence[str]) -> Iterator[tuple[Members, list[tuple[str, ...]], Members]]:
        """Each group `terms` call up: the group, its members found in them, the members it adds."""
        for group, triggers, targets in zip(self.groups, self.triggers, self.targets, strict=True):
            present = [member for member in triggers if contains_phrase(terms, member)]
            if present:
                yield group, present, targets


def _members(side: str, analyzer: Analyzer) -> list[tuple[str, ...]]:
    """The analyzed words or phrases of one side of a synonyms line, those that have terms."""
    analyzed = [tuple(analyzer.terms(m)) for m in re.split(r"[=,]", side) if m.strip()]
    return [a for a in analyzed if a]


def contains_phrase(terms: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether `phrase` occurs as consecutive terms in `terms`."""
    n = len(phrase)
    if n == 1:
        return phrase[0] in terms
    return any(tuple(terms[i : i + n]) == tuple(phrase) for i in range(len(terms) - n + 1))


def acronyms_in(text: str) -> list[str]:
    """Words written like acronyms: 'NHS', 'ICSs', 'A&E'."""
    return _ACRONYM.findall(text)


_BARE = Analyzer()  # knows no acronyms: how the words of a definition's long form are analysed


@dataclass(frozen=True)
class TextFacts:
    """What one passage tells the analyzer about the corpus: the words it writes like acronyms,
    its short lower-case words, and the acronyms it defines (long-form terms, acronym term)."""

    capitals: frozenset[str]
    lower_words: frozenset[str]
    definitions: tuple[tuple[tuple[str, ...], str], ...]


def text_facts(text: str) -> TextFacts:
    """The facts `Analyzer.for_corpus` learns from `text`."""
    folded = plain(text)
    definitions = []
    for words, acronym in find_definitions(folded):
        form = tuple(_BARE.terms(" ".join(words)))
        if len(form) >= 2:
            definitions.append((form, _acronym_term(acronym)))
    capitals = frozenset(_acronym_term(w) for w in acronyms_in(folded))
    return TextFacts(capitals, frozenset(_LOWER_WORD.findall(folded)), tuple(definitions))


@dataclass
class CorpusFacts:
    """The facts of a corpus's passages, counted, so passages can be taken away as well as added
    (bot/incremental.py). Definitions are kept by group (a document): the first definition of a
    long form wins, so the groups must be in corpus order."""

    capitals: Counter[str] = field(default_factory=Counter)
    lower_words: Counter[str] = field(default_factory=Counter)
    definitions: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)

    def add(self, facts: TextFacts, group: str = "") -> None:
        self.capitals.update(facts.capitals)
        self.lower_words.update(facts.lower_words)
        if facts.definitions:
            self.definitions.setdefault(group, []).extend(facts.definitions)

    def remove(self, facts: TextFacts) -> None:
        """Take away a passage's counts (its group's definitions are the caller's to drop)."""
        for counter, words in ((self.capitals, facts.capitals), (self.lower_words, facts.lower_words)):
            counter.subtract(words)
            for word in words:
                if counter[word] <= 0:
                    del counter[word]

    def analyzer(self, extra_acronyms: Iterable[str] = ()) -> Analyzer:
        defined = {_acronym_term(a) for a in extra_acronyms}
        long_forms: dict[tuple[str, ...], str] = {}
        for form, acronym in chain.from_iterable(self.definitions.values()):
            long_forms.setdefault(form, acronym)
            defined.add(acronym)
        lower = self.lower_words
        # A capitalised word the corpus also writes in lower case is shouting, not an acronym.
        used = {a for a in self.capitals if a not in STOP_WORDS and a not in lower and f"{a}s" not in lower}
        return Analyzer(acronyms=frozenset(used | defined), long_forms=long_forms, learned=True)
