"""The analyzer: text -> search terms. Pure; the same code reads articles and questions.

- Unicode: curly quotes, the dashes and minus signs, odd spaces are folded (one character for
  one, so term offsets point into the original text for highlighting); NFKC per token.
- Figures stay whole: `2017-18` = `2017/18` = `2017-2018`, `£213m` = `£213 million` = `213m`,
  `36%` = `36 per cent`, `5.7`, `1,000` = `1000`; number words count (`Thirty-six per cent`).
- Words are case-folded, English stop words dropped, Snowball-stemmed (PyStemmer), with a few
  irregular verbs the stemmer misses (`overspent` = `overspend`).
- Acronyms are kept unstemmed and singular (`ICSs` = `ICS`), and those the corpus defines, as in
  "Integrated Care Systems (ICSs)", also match their long form: where the long form occurs,
  the acronym's term is added.
- Synonyms from an editable file are applied to questions only (`Synonyms.expand`).
- Two concepts stand for the kind of figure a question asks for: every percentage also gives
  the term `%` (as do "percentage" and "proportion"), and every year also gives `#year`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import Stemmer

# One character for one, so offsets in the folded text are offsets in the original.
_FOLD = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-", "\ufe63": "-", "\uff0d": "-",
        "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2007": " ",
        "\uff05": "%", "\uffe1": "£",
    }
)  # fmt: skip

_NUMBER = r"[£$€]?\d+(?:[.,]\d+)*(?:[-/]\d+)?%?(?:[^\W\d_]+)?"
_WORD = r"[^\W\d_]+(?:['-][^\W\d_]+)*"
_TOKEN = re.compile(rf"{_NUMBER}|{_WORD}|%")
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
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")

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


@dataclass
class Analyzer:
    """Turns text into search terms. Build one per index; it knows the corpus's acronyms."""

    acronyms: frozenset[str] = frozenset()  # lower-case acronym terms ("ics", "nhse")
    long_forms: Mapping[tuple[str, ...], str] = field(default_factory=dict)  # terms -> acronym
    learned: bool = False  # whether `acronyms` came from a corpus (else any capitalised word is one)
    _stemmer: Stemmer.Stemmer = field(init=False, repr=False)
    _cache: dict[str, tuple[str, ...]] = field(init=False, repr=False)
    _heads: dict[str, list[tuple[tuple[str, ...], str]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._cache = {}
        heads: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for form, acronym in self.long_forms.items():
            heads.setdefault(form[0], []).append((form, acronym))
        for forms in heads.values():
            forms.sort(key=lambda f: -len(f[0]))  # longest match first
        self._heads = heads

    @classmethod
    def for_corpus(cls, texts: Iterable[str], extra_acronyms: Iterable[str] = ()) -> Analyzer:
        """An analyzer that knows the acronyms used and defined in `texts`."""
        plain = cls()
        capitals: set[str] = set()
        lower_words: set[str] = set()
        defined = {_acronym_term(a) for a in extra_acronyms}
        long_forms: dict[tuple[str, ...], str] = {}
        for text in texts:
            folded = text.translate(_FOLD)
            capitals.update(_acronym_term(w) for w in acronyms_in(folded))
            lower_words.update(re.findall(r"\b[a-z]{2,7}\b", folded))
            for words, acronym in find_definitions(folded):
                form = tuple(plain.terms(" ".join(words)))
                if len(form) >= 2:
                    long_forms.setdefault(form, _acronym_term(acronym))
                    defined.add(_acronym_term(acronym))
        # A capitalised word the corpus also writes in lower case is shouting, not an acronym.
        used = {a for a in capitals if a not in STOP_WORDS and a not in lower_words and f"{a}s" not in lower_words}
        return cls(acronyms=frozenset(used | defined), long_forms=long_forms, learned=True)

    def terms(self, text: str) -> list[str]:
        """The search terms of `text`, in order."""
        return [t.text for t in self.spans(text)]

    def spans(self, text: str) -> list[Term]:
        """The search terms of `text` with the character span each came from."""
        folded = text.translate(_FOLD)
        raw = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(folded)]
        out: list[Term] = []
        i = 0
        while i < len(raw):
            token, start, end = raw[i]
            if token[0].isdigit() or token[0] in "£$€":
                value, used = _figure(raw, i)
                out.append(Term(value, start, raw[i + used - 1][2]))
                if value.endswith(PERCENT):
                    out.append(Term(PERCENT, start, raw[i + used - 1][2]))
                elif _YEAR.match(value):
                    out.append(Term(YEAR, start, raw[i + used - 1][2]))
                i += used
                continue
            if token == PERCENT:
                out.append(Term(PERCENT, start, end))
                i += 1
                continue
            number, used = _number_words(raw, i)
            if number is not None:
                value, scale_used = _figure([(number, start, end), *raw[i + used :]], 0)
                last = raw[i + used + scale_used - 2][2] if scale_used > 1 else raw[i + used - 1][2]
                out.append(Term(value, start, last))
                if value.endswith(PERCENT):
                    out.append(Term(PERCENT, start, last))
                i += used + scale_used - 1
                continue
            for term in self._word(token):
                out.append(Term(term, start, end))
            i += 1
        return self._add_acronyms(out) if self._heads else out

    def _word(self, token: str) -> tuple[str, ...]:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        result = self._analyze_word(token)
        if len(self._cache) < 200_000:
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

    def _add_acronyms(self, terms: list[Term]) -> list[Term]:
        texts = [t.text for t in terms]
        after: dict[int, list[Term]] = {}  # index of a long form's last term -> acronyms
        for i, term in enumerate(terms):
            for form, acronym in self._heads.get(term.text, ()):
                n = len(form)
                if tuple(texts[i : i + n]) == form:
                    after.setdefault(i + n - 1, []).append(Term(acronym, term.start, terms[i + n - 1].end, n))
                    break
        if not after:
            return terms
        out: list[Term] = []
        for i, term in enumerate(terms):
            out.append(term)
            out.extend(after.get(i, ()))
        return out


def _acronym_term(word: str) -> str:
    word = word.replace("&", "")
    if len(word) > 2 and word.endswith("s") and word[:-1].isupper():
        word = word[:-1]
    return word.lower()


def _figure(raw: Sequence[tuple[str, int, int]], i: int) -> tuple[str, int]:
    """Canonical text of the figure starting at raw[i], and how many tokens it used."""
    token = raw[i][0].lstrip("£$€")
    token = _THOUSANDS.sub("", token)
    match = _YEAR_RANGE.match(token)
    if match:
        first, second = match.groups()
        if len(second) == 4 and second[:2] == first[:2]:
            second = second[2:]
        return f"{first}-{second}", 1
    number = re.match(r"\d+(?:\.\d+)?(?:[-/]\d+)?", token)
    assert number is not None
    digits, suffix = number.group(), token[number.end() :].casefold()
    if suffix == "%":
        return f"{digits}%", 1
    if suffix in _SCALE:
        return digits + _SCALE[suffix], 1
    if suffix:
        return digits + suffix, 1  # "2nd", "1990s": keep as written
    nxt = raw[i + 1][0].casefold() if i + 1 < len(raw) else ""
    if nxt in _SCALE and nxt not in ("m", "b", "k"):  # "£5.7 billion"; not "5 m" (metres)
        return digits + _SCALE[nxt], 2
    if nxt in ("percent", "pc"):
        return f"{digits}%", 2
    if nxt == "per" and i + 2 < len(raw) and raw[i + 2][0].casefold() == "cent":
        return f"{digits}%", 3
    return digits, 1


def _number_words(raw: Sequence[tuple[str, int, int]], i: int) -> tuple[str | None, int]:
    """'thirty-six' or 'thirty six' -> '36'; None when raw[i] is not a number word."""
    word = raw[i][0].casefold()
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
    if value >= 20 and i + 1 < len(raw) and 0 < NUMBER_WORDS.get(raw[i + 1][0].casefold(), 99) < 10:
        value += NUMBER_WORDS[raw[i + 1][0].casefold()]
        used = 2
    return str(value), used


_BRACKETED = re.compile(r"\(([A-Z][A-Za-z&]{1,7})\)")
_WORDS_BEFORE = re.compile(r"(?:[^\W\d_][\w'&-]*\s+){1,10}\Z")
_LOOK_BACK = 400  # characters before a bracket searched for its long form: ten long words and their spaces


def find_definitions(text: str) -> list[tuple[list[str], str]]:
    """Acronym definitions such as 'Integrated Care Systems (ICSs)' or 'NHS England (NHSE)':
    (long-form words, acronym) pairs where the words' initials spell the acronym.

    Brackets are found first and only the text just before each is searched for up to ten
    words: one pattern for the whole definition would try ten words at every word of every
    passage, which was most of the time it takes to index a large knowledge base."""
    found = []
    for bracket in _BRACKETED.finditer(text):
        start = bracket.start()
        match = _WORDS_BEFORE.search(text, max(0, start - _LOOK_BACK), start)
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


@dataclass(frozen=True)
class Synonyms:
    """Groups of equivalent words or phrases, applied to questions (`expand`)."""

    groups: tuple[tuple[tuple[str, ...], ...], ...] = ()  # each member as analyzed terms

    @classmethod
    def parse(cls, text: str, analyzer: Analyzer) -> tuple[Synonyms, list[str]]:
        """Read 'councils = local authorities' lines ('=' or ',' between members, '#' comments).
        Returns the synonyms and a warning per line that could not be used."""
        groups, warnings = [], []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            members = [m.strip() for m in re.split(r"[=,]", line) if m.strip()]
            analyzed = [tuple(analyzer.terms(m)) for m in members]
            usable = tuple(dict.fromkeys(a for a in analyzed if a))
            if len(usable) < 2:
                warnings.append(
                    f"line {number}: needs two or more words or phrases to join, like 'councils = local authorities'"
                )
                continue
            groups.append(usable)
        return cls(tuple(groups)), warnings

    def expand(self, terms: Sequence[str]) -> list[str]:
        """`terms` plus the terms of every synonym of a word or phrase found in them."""
        present = set(terms)
        extra: list[str] = []
        for group in self.groups:
            if not any(contains_phrase(terms, member) for member in group):
                continue
            for member in group:
                extra.extend(t for t in member if t not in present)
                present.update(member)
        return [*terms, *extra]


def contains_phrase(terms: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether `phrase` occurs as consecutive terms in `terms`."""
    n = len(phrase)
    if n == 1:
        return phrase[0] in terms
    return any(tuple(terms[i : i + n]) == tuple(phrase) for i in range(len(terms) - n + 1))


def acronyms_in(text: str) -> list[str]:
    """Words written like acronyms: 'NHS', 'ICSs', 'A&E'."""
    return re.findall(r"(?<![\w&])[A-Z][A-Z&]{1,5}s?(?![\w&])", text)
