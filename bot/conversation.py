"""Follow-ups: the question to search for a message said after an earlier question and its answer. Pure.

One conversation, everywhere: a Slack thread and the terminal chat keep the same `Turn` (the last
question as searched, and the answer given to it: the top result's answer sentence and its
passage), and `resolve` reads each new message against it, by a few rules, tried in order:

1. Relative time: "the year before", "the following year" become the year they mean, counted from
   the year of the last question (or, when it named none, of its answer): 2017-18 becomes 2016-17,
   17/18 becomes 16/17. The message then goes on through the rules below with that year in it.
2. "Who said that?": the speaker of the answer sentence, so the answer sentence is searched for
   with the question "who said".
3. Words pointing back ("he", "she", "his" at the person the answer named; "it", "they", "that",
   "the programme" at what the last question asked about) are replaced by what they point at, in a
   short message (MAX_POINTING_WORDS words of its own at most): "what did he say?" after an answer
   naming Amyas Morse is "what did Amyas Morse say?".
4. A question complete in itself stays itself, even when it opens with "and": one opening with a
   question word and a verb ("What is an ICS?") with a word of its own besides a year, one opening
   with a question word alone ("how many CCGs were rated inadequate?") with two, or any message of
   more than MAX_FRAGMENT_WORDS words that are not stop words.
5. Anything else is an ellipsis ("and in 2016-17?", "what about ICSs?", "and the GP leaders?"): its
   year replaces the last question's, and its other new words are added to it.

Acknowledgements ("thanks", "ok", "👍") ask nothing: `Conversation.ask` gives None for them, and
they leave the conversation as it was (bot/question.py `is_chatter`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.common_words import COMMON_WORDS
from bot.models import Answer
from bot.question import MAX_QUESTION_CHARS, is_chatter
from bot.text import STOP_WORDS

MAX_FRAGMENT_WORDS = 3  # a follow-up with more content words than this is a question of its own
MAX_POINTING_WORDS = 3  # ... and one that points back ("how would they be funded?") has at most this many
MAX_QUOTED_WORDS = 25  # of an answer sentence searched for "who said that?"

_WORD = re.compile(r"[^\W_]+(?:['’./-][^\W_]+)*")
# Words that open an elliptical follow-up, possibly several: "ok and what about ICSs?".
_OPENER = re.compile(
    r"^(?:\s*(?:and|or|but|also|so|then|ok|okay|now|(?:what|how)\s+about|what\s+of|as\s+for|"
    r"same\s+(?:again\s+|question\s+|thing\s+)?(?:for|with|in|about))\b[\s,:;.\-–—]*)+",
    re.IGNORECASE,
)
_QUESTION_WORD = r"who|whom|whose|what|what's|what’s|when|where|which|why|how"
_AUXILIARY = r"is|are|was|were|do|does|did|can|could|should|would|will|has|have|had"
_QUESTION_SHAPED = re.compile(rf"^(?:{_QUESTION_WORD}|{_AUXILIARY})\b", re.IGNORECASE)
# A question word followed by a verb ("Who is", "What's", "How does") or a leading auxiliary opens a
# question of its own with a single word besides ("What is an ICS?"); "which year?" is still a fragment.
_NEW_QUESTION = re.compile(
    rf"^(?:(?:who|what|when|where|which|why|how|whose)(?:'s|’s|\s+(?:{_AUXILIARY}))|{_AUXILIARY})\b", re.IGNORECASE
)
_QUESTION_WORDS = frozenset(_QUESTION_WORD.replace("’", "'").split("|"))
# A year or financial year: 2016, 2016-17, 2016/17, 2016–2017, 16/17 (not £2016m, 2016% or 3/4).
_YEAR = re.compile(
    r"(?<![\w£$€.,/-])(?:(?:19|20)\d\d(?:\s?[-/–—]\s?(?:(?:19|20)\d\d|\d\d))?|\d\d[-/–]\d\d)(?![\w%£/-])"
)
_YEAR_PARTS = re.compile(r"(\d+)(\s?[-/–—]\s?)?(\d+)?")
_EARLIER = (
    r"(?:the\s+)?year\s+before|the\s+(?:previous|prior|preceding)\s+year|the\s+year\s+prior|(?:a|one)\s+year\s+earlier"
)
_LATER = r"the\s+(?:following|next)\s+year|(?:the\s+)?year\s+after|(?:a|one)\s+year\s+later"
_RELATIVE_TIME = re.compile(
    rf"(?:(?:in|for)\s+)?(?:(?P<earlier>{_EARLIER})|(?P<later>{_LATER}))(?:\s+(?:that|this|it))?\b", re.IGNORECASE
)
_WHO_SAID = re.compile(r"^who\s+(?:said|says|wrote|made)\s+(?:that|this|it)\b", re.IGNORECASE)
_PERSON_PRONOUN = re.compile(r"\b(?:he|she|him|her|his|hers)\b", re.IGNORECASE)
# Words pointing at many things ("they") stand for all the last question asked about; words pointing at
# one thing ("it", "the programme") for the name of several words it asked about, if it named one.
_POINTING_MANY = r"they|them|their|those|these"
_POINTING = re.compile(
    rf"\b(?:(?P<many>{_POINTING_MANY})|it|its|that|this|"
    r"the\s+(?:programme|program|scheme|report|survey|proposal|plan|review|study|policy|change))\b",
    re.IGNORECASE,
)
# A person's name: two or three capitalised words, none a stop word, one at least unusual enough not to be
# a common English word ("Amyas Morse", "Lorraine O’Reilly"; not "Integrated Care", "The NAO", "North East Essex").
_NAME = re.compile(r"\b(?!(?:North|South|East|West)\b)[A-Z][a-z’'-]+(?:\s+[A-Z][a-z’'-]+){1,2}\b")
_SPACE_BEFORE_STOP = re.compile(r"\s+([?!.,;:])")
# A name in a question: capitalised words or acronyms after its first word ("the Commissioning Support Programme").
_PROPER = re.compile(r"(?<=\s)(?:[A-Z][\w’'-]*)(?:\s+(?:[A-Z][\w’'-]*))*")


@dataclass(frozen=True)
class Turn:
    """What a conversation remembers of its last question: the question as searched, and the answer
    given to it (the top result's answer sentence and its passage; empty when nothing was found)."""

    question: str
    answer: str = ""
    passage: str = ""

    @classmethod
    def of(cls, answer: Answer) -> Turn:
        """The turn an answer ends: its question, and its top result's sentence and passage."""
        if not answer.hits:
            return cls(answer.question)
        hit = answer.hits[0]
        start, end = hit.answer or (0, len(hit.excerpt))
        return cls(answer.question, hit.excerpt[start:end], hit.passage.text)


class Conversation:
    """A conversation in one place (a terminal chat, an evaluation's conversation): each message is
    resolved against the turn before it. Pure: it only remembers."""

    def __init__(self) -> None:
        self.last: Turn | None = None

    def ask(self, typed: str) -> str | None:
        """The question to search for `typed`, or None when it asks nothing ("thanks", "ok", "👍")."""
        return None if is_chatter(typed) else resolve(typed, self.last)

    def answered(self, answer: Answer) -> None:
        """Remember `answer` as the one the next follow-up refers to."""
        self.last = Turn.of(answer)


def resolve(typed: str, last: Turn | None) -> str:
    """The question to search for `typed`, said after `last` (None: the start of a conversation).
    The rules are in the module's docstring; the result is at most MAX_QUESTION_CHARS long."""
    if last is None or not last.question.strip():
        return typed
    rest = _OPENER.sub("", typed).strip()
    relative = _RELATIVE_TIME.search(rest)
    if relative:
        year = _year_of(last)
        if year is not None:
            moved = _shift(year, -1 if relative["earlier"] else 1)
            return resolve(f"{rest[: relative.start()]} in {moved} {rest[relative.end() :]}", last)
    if _WHO_SAID.match(rest) and last.answer:
        return _clip(f"who said “{_first_words(last.answer, MAX_QUOTED_WORDS)}”")
    pointing = _PERSON_PRONOUN.search(rest) or _POINTING.search(rest)
    own = [w for w in _content(_POINTING.sub(" ", _PERSON_PRONOUN.sub(" ", rest))) if not _YEAR.fullmatch(w)]
    if pointing and len(own) <= MAX_POINTING_WORDS:
        return _clip(_point(rest, last))
    shaped = 1 if _NEW_QUESTION.match(rest) else 2 if _QUESTION_SHAPED.match(rest) else None
    if len(_content(rest)) > MAX_FRAGMENT_WORDS or (shaped is not None and len(own) >= shaped):
        return typed
    return _ellipsis(rest, last.question)


def _point(rest: str, last: Turn) -> str:
    """`rest` with its words pointing back replaced: a person's pronoun by the person the answer (or
    its passage, or the question) named, other pointing words by what the last question asked about."""
    topic = _topic(last.question, _YEAR.search(rest) is not None)
    name = next((found for text in (last.question, last.answer, last.passage) if (found := _name(text))), None)
    said: list[str] = []  # each thing is named once: "what share of their budgets is that?"

    def person(match: re.Match[str]) -> str:
        if name is None:
            return pointed(match)
        return f"{name}’s" if match[0].casefold() in {"his", "hers"} else name

    def pointed(match: re.Match[str]) -> str:
        proper = [found for found in _PROPER.findall(last.question) if " " in found]  # a name of several words
        meant = topic if match.groupdict().get("many") or not proper else proper[0]
        said.append(meant)
        return meant if len(said) == 1 else ""

    rest = _PERSON_PRONOUN.sub(person, rest)
    return _SPACE_BEFORE_STOP.sub(r"\1", " ".join(_POINTING.sub(pointed, rest).split()))


def _topic(question: str, drop_years: bool) -> str:
    """What a question asks about: its words that are neither stop words nor question words."""
    words = [w for w in _content(question) if w.casefold() not in _QUESTION_WORDS]
    return " ".join(w for w in words if not (drop_years and _YEAR.fullmatch(w)))


def _name(text: str) -> str | None:
    """The first person's name in `text`, or None."""
    for match in _NAME.finditer(text):
        words = match[0].split()
        if not any(w.casefold() in STOP_WORDS for w in words) and any(
            w.casefold().rstrip("’'s") not in COMMON_WORDS for w in words
        ):
            return match[0]
    return None


def _ellipsis(rest: str, previous: str) -> str:
    """An elliptical follow-up read with the question before it: its year swapped in, its new words added."""
    years = _YEAR.findall(rest)
    if years and len(set(_YEAR.findall(previous))) == 1:
        previous = _YEAR.sub(lambda _: " and ".join(years), previous)
        rest = _YEAR.sub(" ", rest)
    # Add the follow-up's words only if they say something `previous` does not.
    known = {w.casefold() for w in _WORD.findall(previous)} | STOP_WORDS
    if not any(w.casefold() not in known for w in _WORD.findall(rest)):
        return previous[:MAX_QUESTION_CHARS]
    words = rest.split()
    while words and _says_nothing(words[-1]):  # such as the "in" of "in 2016-17" once the year has moved
        words.pop()
    rest = " ".join(words).strip(" ,;:-?!.")
    room = MAX_QUESTION_CHARS - len(rest) - 1
    return f"{previous[:room]} {rest}" if room > 0 else rest[:MAX_QUESTION_CHARS]


def _year_of(last: Turn) -> str | None:
    """The year a relative time counts from: the last question's only year, else its answer's first."""
    asked: set[str] = set(_YEAR.findall(last.question))
    if len(asked) == 1:
        return next(iter(asked))
    found = _YEAR.search(last.answer) if not asked else None
    return str(found[0]) if found else None


def _shift(year: str, by: int) -> str:
    """`year` moved by `by` years, written the same way: 2017-18 -> 2016-17, 17/18 -> 16/17, 2017 -> 2016."""
    parts = _YEAR_PARTS.fullmatch(year)
    if parts is None:  # pragma: no cover - _YEAR only finds what _YEAR_PARTS reads
        return year
    first, between, second = parts.groups()
    moved = str(int(first) + by).zfill(len(first))
    if second is None:
        return moved
    return f"{moved}{between}{str(int(second) + by).zfill(len(second))[-len(second) :]}"


def _content(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.casefold() not in STOP_WORDS]


def _first_words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words[:limit]) + ("…" if len(words) > limit else "")


def _clip(question: str) -> str:
    return question[:MAX_QUESTION_CHARS]


def _says_nothing(word: str) -> bool:
    bare = word.casefold().strip("?!.,;:")
    return not bare or bare in STOP_WORDS
