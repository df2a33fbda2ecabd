"""Slack message text -> the question to search. Pure.

Slack sends text with its own markup (`<@U123>`, `<#C1|general>`, `<https://x|label>`, `<!here>`)
and with `&`, `<`, `>` escaped as entities; `question_text` turns that back into the words a person
would read (emoji codes such as `:+1:` say nothing to search, and are dropped). `is_chatter` tells a
"thanks!" or a "👍" from a question. A follow-up is read with the question before it in
bot/conversation.py.
"""

from __future__ import annotations

import re

from bot.characters import printable, visible
from bot.text import STOP_WORDS

MAX_QUESTION_CHARS = 2000

_MARKUP = re.compile(r"<([^<>]*)>")
_LEADING_MENTIONS = re.compile(r"^(?:\s*<@[^<>]*>)+")
# Slack sends emoji as codes: ":+1:", ":joy:", ":wave::skin-tone-3:". A code has a letter, or is one of
# the few without ("+1", "-1", "100"), so "1:2:3" and "10:30:00" stay as they are.
_EMOJI_CODE = re.compile(r"(?<![\w:]):(?:[a-z0-9_+'-]*[a-z][a-z0-9_+'-]*|[+-]1|100):(?::skin-tone-[2-6]:)?")
_LEADING_JUNK = re.compile(r"^[\s:,;.\-–—]+")  # left by "<@BOT>: question"
_WORD = re.compile(r"[^\W_]+(?:['’./-][^\W_]+)*")


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
