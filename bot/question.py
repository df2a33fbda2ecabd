"""Slack message text -> the question to search. Pure.

Slack sends text with its own markup (`<@U123>`, `<#C1|general>`, `<https://x|label>`, `<!here>`)
and with `&`, `<`, `>` escaped as entities; `question_text` turns that back into the words a person
would read (emoji codes such as `:+1:` say nothing to search, and are dropped). `is_chatter` tells a
"thanks!" or a "👍" from a question. `combine` joins an elliptical follow-up in a thread ("and in 2016-17?") to the
thread's earlier question so that the search still knows what is being asked about.
"""

from __future__ import annotations

import re

from bot.characters import printable, visible
from bot.text import STOP_WORDS

MAX_QUESTION_CHARS = 2000
MAX_FRAGMENT_WORDS = 3  # a follow-up with more content words than this is a question of its own

_MARKUP = re.compile(r"<([^<>]*)>")
_LEADING_MENTIONS = re.compile(r"^(?:\s*<@[^<>]*>)+")
# Slack sends emoji as codes: ":+1:", ":joy:", ":wave::skin-tone-3:". A code has a letter, or is one of
# the few without ("+1", "-1", "100"), so "1:2:3" and "10:30:00" stay as they are.
_EMOJI_CODE = re.compile(r"(?<![\w:]):(?:[a-z0-9_+'-]*[a-z][a-z0-9_+'-]*|[+-]1|100):(?::skin-tone-[2-6]:)?")
_LEADING_JUNK = re.compile(r"^[\s:,;.\-–—]+")  # left by "<@BOT>: question"
# Words that open an elliptical follow-up, possibly several: "ok and what about ICSs?".
_OPENER = re.compile(
    r"^(?:\s*(?:and|or|but|also|so|then|ok|okay|now|(?:what|how)\s+about|what\s+of|as\s+for|"
    r"same\s+(?:again\s+|question\s+|thing\s+)?(?:for|with|in|about))\b[\s,:;.\-–—]*)+",
    re.IGNORECASE,
)
# A question word followed by a verb ("Who is", "What's", "How does") or a leading auxiliary opens
# a question of its own; "how many in 2016-17?" and "which year?" are still fragments.
_NEW_QUESTION = re.compile(
    r"^(?:(?:who|what|when|where|which|why|how|whose)(?:'s|’s|\s+(?:is|are|was|were|do|does|did|has|have|had|"
    r"can|could|should|would|will))|is|are|was|were|do|does|did|can|could|should|would|will|has|have)\b",
    re.IGNORECASE,
)
# A pronoun pointing back at the earlier answer makes even a question-shaped follow-up elliptical.
_BACK_REFERENCE = re.compile(r"\b(?:it|its|that|this|these|those|they|them|their|there)\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:['’./-][^\W_]+)*")
# A year or financial year: 2016, 2016-17, 2016/17, 2016–2017, 16/17 (not £2016m, 2016% or 3/4).
_YEAR = re.compile(
    r"(?<![\w£$€.,/-])(?:(?:19|20)\d\d(?:\s?[-/–—]\s?(?:(?:19|20)\d\d|\d\d))?|\d\d[-/–]\d\d)(?![\w%£/-])"
)


def question_text(text: str, bot_user_id: str | None) -> str:
    """The question in a Slack message: markup turned into words, the bot's own mention removed,
    entities unescaped, odd Unicode normalised and whitespace collapsed. Linear in the text length.

    Other people's mentions become "someone" (a stop word: readable, never searched). When the bot's
    id is unknown, mentions that open the message are taken to address the bot."""
    if bot_user_id is None:
        text = _LEADING_MENTIONS.sub("", text)
    text = _MARKUP.sub(lambda m: _words(m[1], bot_user_id), text)
    # &amp; last, so "&amp;lt;" (someone typing "&lt;") stays "&lt;".
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return normalise(_EMOJI_CODE.sub(" ", text))


def normalise(text: str) -> str:
    """A question as every surface hands it to the search, Slack's and the command line's alike:
    odd Unicode normalised as articles are (so the two meet on the same characters: "over\u200bspent"
    is "overspent"), whitespace collapsed, and punctuation left before the first word removed."""
    return _LEADING_JUNK.sub("", " ".join(visible(text).split()))


# Words that only acknowledge an answer or react to it. A message of these and stop words alone
# ("thanks!", "ok great, thank you", "lol") asks nothing, and answering it would only repeat the thread.
ACKNOWLEDGEMENTS = frozenset(
    """thanks thank thx ty tyvm cheers ta ok okay okey k kk cool great nice good perfect brilliant awesome
    excellent lovely super fab fantastic amazing helpful useful interesting lol lmao rofl haha hahaha hehe
    yes yeah yep yup no nope nah sure right gotcha understood noted appreciated appreciate wow sweet ace
    np makes sense""".split()
)


def is_chatter(question: str) -> bool:
    """Whether a message (as `question_text` gives it) has nothing to search: no words at all (an
    emoji, "?"), or only acknowledgements and stop words ("thanks!", "ok", "lol", "got it, thanks")."""
    words = [w.casefold() for w in _WORD.findall(question)]
    if not words:
        return True
    return any(w in ACKNOWLEDGEMENTS for w in words) and all(w in ACKNOWLEDGEMENTS or w in STOP_WORDS for w in words)


MAX_ADMIN_VERB = 50  # characters of an /ask-admin command's first word that are logged and stored


def admin_verb(text: str) -> str:
    """The first word of an /ask-admin command in lower case ("help" when there is none), as it may
    be logged and stored: invisible characters written as escapes, at most MAX_ADMIN_VERB long."""
    words = text.split()
    return printable(words[0].lower())[:MAX_ADMIN_VERB] if words else "help"


def is_too_long(question: str) -> bool:
    """Whether a question is over `MAX_QUESTION_CHARS` (answer with reply.too_long_message)."""
    return len(question) > MAX_QUESTION_CHARS


def combine(follow_up: str, previous: str) -> str:
    """The question to search for a follow-up in a thread whose earlier question was `previous`.

    The rule: after a leading opener ("and", "what about", "how about", "same for", "also"...) is
    removed, a follow-up with at most MAX_FRAGMENT_WORDS content words (not stop words) is elliptical
    unless it opens like a question of its own ("Who is...", "What are...", "Does...") without pointing
    back with a pronoun ("How does that compare...?" is elliptical):
    - if it names a year and `previous` mentions exactly one year, that year is swapped:
      "How many CCGs overspent in 2017-18?" + "and in 2016-17?" -> "How many CCGs overspent in 2016-17?";
    - its other words are added to `previous` if they are new: + "what about ICSs?" -> "... 2017-18? ICSs".
    Anything else ("Who is Lorraine O'Reilly?") is returned as it is. The result is at most
    MAX_QUESTION_CHARS long (the start of `previous` is kept)."""
    rest = _OPENER.sub("", follow_up).strip()
    content = [w for w in _WORD.findall(rest) if w.casefold() not in STOP_WORDS]
    own_question = _NEW_QUESTION.match(rest) and not _BACK_REFERENCE.search(rest)
    if not previous.strip() or len(content) > MAX_FRAGMENT_WORDS or own_question:
        return follow_up
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


def _says_nothing(word: str) -> bool:
    bare = word.casefold().strip("?!.,;:")
    return not bare or bare in STOP_WORDS


def _words(markup: str, bot_user_id: str | None) -> str:
    """Readable words for one `<...>` of Slack markup."""
    target, _, label = markup.partition("|")
    if target.startswith("@"):
        return " " if bot_user_id is not None and target[1:] == bot_user_id else "someone"
    if target.startswith("#"):
        return f"#{label}" if label else " "
    if target.startswith("!"):
        # <!date^...|fallback> reads as its fallback; <!here>, <!channel>, <!subteam^...> say nothing.
        return label if target.startswith("!date^") and label else " "
    return label or target
