"""Engine output -> Slack messages: Block Kit blocks plus a plain-text fallback. Pure: builds, never sends.

Safety rules every function here keeps, whatever the input:
- Article and user text reaches mrkdwn only through `escape` (or `_mrkdwn`, which escapes character
  by character and cuts between characters, so an entity such as `&amp;` is never split). Links and
  mentions are built only from validated urls and user ids, and never cut.
- Text objects are `verbatim`: Slack then skips its automatic parsing, so a bare "@here" or
  "#general" inside an article stays text (Slack docs, text object reference).
- Blocks are built with slack_sdk's classes, whose `to_dict()` checks the per-field limits; the
  50-block cap, the length of context texts and a total text budget are enforced here.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.characters import printable
from bot.display import Citation, Shown, cite, lay_out
from bot.models import Answer, Article, Hit, LoadProblem, ReloadReport, Stats, Vote, count, format_date

ACTION_VOTE_UP = "vote_up"
ACTION_VOTE_DOWN = "vote_down"
ACTION_MORE = "more_results"
ACTION_SHARE = "share_in_channel"
ACTION_CONTEXT = "show_context"
ACTION_UPLOAD_REPLACE = "upload_replace"
ACTION_UPLOAD_KEEP_BOTH = "upload_keep_both"
ACTIONS_BLOCK_ID = "answer_actions"
THANKS_BLOCK_ID = "feedback_thanks"
_VOTES = (ACTION_VOTE_UP, ACTION_VOTE_DOWN)

MAX_BLOCKS = 50
MAX_TEXT = 3000  # a section's text; also applied to each context element
MAX_FALLBACK = 3000  # Slack allows 40,000, but the fallback only feeds notifications and screen readers
TEXT_BUDGET = 12_000  # all text in one message's blocks: Slack has been reported to refuse ~13k in total (unconfirmed)
MAX_OFFSET = 10_000  # a forged "more" offset must not make the engine rank the whole index
MAX_LISTED = 10  # titles, questions or problems listed before "and N more"
LIST_PAGE = 30  # documents on one page of `/ask-admin list`: 3 sections of 10 lines


_QUERY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Exactly the compact JSON `_value` writes: anything else came from somewhere else.
_VALUE = re.compile(r'\{"q":"([A-Za-z0-9_-]{1,64})","o":(0|[1-9][0-9]{0,5})\}')
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
_SAFE_URL = re.compile(r"https?://[!-~]{1,500}")  # printable ASCII, no spaces
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


@dataclass(frozen=True)
class Message:
    """A message ready for chat.postMessage: `text` is the fallback for notifications and screen readers."""

    text: str
    blocks: list[dict[str, Any]]

    def kwargs(self) -> dict[str, Any]:
        """`say(**message.kwargs())`."""
        return {"text": self.text, "blocks": self.blocks}


def escape(text: str) -> str:
    """Escape text for mrkdwn: `&` first, then `<` and `>`; nothing else (Slack's rule)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parse_action_value(value: str) -> tuple[str, int]:
    """(query id, offset) from a button's value; ValueError unless it is exactly what we wrote."""
    match = _VALUE.fullmatch(value) if isinstance(value, str) else None
    if not match or int(match[2]) > MAX_OFFSET:
        raise ValueError(f"not a button value of this bot: {str(value)[:80]!r}")
    return match[1], int(match[2])


# --- answers -----------------------------------------------------------------------------------


def answer_message(
    answer: Answer,
    query_id: str,
    *,
    titles: Sequence[str] = (),
    shared_by: str | None = None,
    ephemeral: bool = False,
    feedback: Vote | None = None,
    typed: str | None = None,
) -> Message:
    """The excerpts with citations and buttons, or, when the engine abstained, what was searched and what
    the knowledge base covers (`titles`). Each result leads with its answer, the sentence(s) of its
    passage that answer (`Hit.answer`), matched words in bold, then its citation; the passages
    themselves are behind "Show context" (`context_message`). 👍/👎 are offered on abstentions too: a
    👎 there marks a gap in the knowledge base. Hits that do not fit Slack's limits move to "More results".
    `typed`: the question as the asker typed it; when the question searched differs, a line above the
    answer says what was searched (`Answer.searching_for`)."""
    if not _QUERY_ID.fullmatch(query_id):
        raise ValueError(f"query id must be 1-64 letters, digits, '-' or '_': {query_id[:80]!r}")
    blocks: list[dict[str, Any]] = []
    intro = _intro(answer, shared_by, ephemeral, typed)
    if intro:
        blocks.append(_context(intro))
    laid_out = lay_out(answer)
    pieces = [(_answer(s), _citation(s.citation)) for s in laid_out]
    results = _results(pieces, TEXT_BUDGET - _size(blocks) - 500, MAX_BLOCKS - len(blocks) - 2)
    blocks += results  # room above for the buttons and the thanks line
    shown = len(results) // 2
    if answer.abstained:
        blocks += _nothing_found(answer, titles)
    next_offset = answer.offset + shown
    more = (answer.more or shown < len(answer.hits)) and next_offset <= MAX_OFFSET
    share = ephemeral and shared_by is None and shown > 0
    context = any(s.text != s.hit.excerpt for s in laid_out[:shown])
    blocks.append(_actions(query_id, answer.offset, next_offset if more else None, share, context))
    if feedback:
        blocks = with_vote(blocks, feedback)
    return Message(_fallback(_answer_text(answer, laid_out[:shown])), blocks)


def with_vote(blocks: Sequence[Mapping[str, Any]], vote: Vote) -> list[dict[str, Any]]:
    """A copy of a posted answer's blocks (as Slack sends them back) showing `vote`; idempotent."""
    chosen = ACTION_VOTE_UP if vote == "up" else ACTION_VOTE_DOWN
    kept = [copy.deepcopy(dict(b)) for b in blocks if b.get("block_id") != THANKS_BLOCK_ID]
    result: list[dict[str, Any]] = []
    for block in kept:
        result.append(block)
        votes = [e for e in block.get("elements") or () if isinstance(e, dict) and e.get("action_id") in _VOTES]
        if block.get("type") != "actions" or not votes:
            continue
        for element in votes:
            element.pop("style", None)
            if element["action_id"] == chosen:
                element["style"] = "primary"
        if len(kept) < MAX_BLOCKS:
            word = "helpful 👍" if vote == "up" else "not helpful 👎"
            result.append(_context([f"Thanks for the feedback: marked as {word}."], block_id=THANKS_BLOCK_ID))
    return result


def _intro(answer: Answer, shared_by: str | None, ephemeral: bool, typed: str | None) -> list[str]:
    parts = []
    if shared_by is not None:
        # Only a real user id becomes a mention; anything else could ping or spoof.
        parts.append(f"Shared by <@{shared_by}>" if _USER_ID.fullmatch(shared_by) else "Shared from a private reply")
    if (shared_by is not None or ephemeral) and answer.question:
        # The asker's /ask text is not in the channel, so say what was asked.
        parts.append(f"*Question:* {_mrkdwn(_line(answer.question), 300)}")
    searching = answer.searching_for(typed)
    if searching:
        parts.append(_mrkdwn(_line(searching), 300))
    if answer.offset and answer.hits:
        parts.append(f"More results, from result {answer.offset + 1}")
    return parts


def context_message(answer: Answer) -> Message:
    """The passages behind an answer's results ("Show context"): each excerpt whole, matched words in
    bold, with its citation. Only the person who clicked sees it."""
    blocks: list[dict[str, Any]] = [_context(["The passages these answers come from:"])]
    ranked = enumerate(answer.hits, answer.offset + 1)
    pieces = [(_excerpt(rank, hit), _citation(cite(hit, full=True))) for rank, hit in ranked]
    blocks += _results(pieces, TEXT_BUDGET - _size(blocks), MAX_BLOCKS - len(blocks))
    if len(blocks) == 1:
        return _plain("That answer has no passages to show any more.", "That answer has no passages to show any more.")
    lines = [f"{rank}. {_short(hit.excerpt, 300)}" for rank, hit in enumerate(answer.hits, answer.offset + 1)]
    return Message(_fallback("\n".join(lines)), blocks)


def _results(pieces: Sequence[tuple[str, str]], budget: int, room: int) -> list[dict[str, Any]]:
    """A section and a context block (its citation) per result's (text, citation) mrkdwn, in at most
    `room` blocks and `budget` characters; the first result always, the others while they fit."""
    blocks: list[dict[str, Any]] = []
    for text, citation in pieces:
        pair = [_section(text), _context([citation])]
        if blocks and (len(blocks) + 2 > room or _size(pair) > budget):
            break
        blocks += pair
        budget -= _size(pair)
    return blocks


def _answer(shown: Shown) -> str:
    """A result's answer as laid out (bot/display.py): verbatim, the question's words in bold."""
    text = _mrkdwn(shown.text, MAX_TEXT - 20, _bold_spans(shown.text, shown.bold, MAX_TEXT))
    return f"*{shown.rank}.* {'…' if shown.before else ''}{text}{'…' if shown.after and not text.endswith('…') else ''}"


def _excerpt(rank: int, hit: Hit) -> str:
    label = f"*{rank}.* "
    return label + _mrkdwn(hit.excerpt, MAX_TEXT - len(label), _bold_spans(hit.excerpt, hit.highlights, MAX_TEXT))


def _citation(citation: Citation) -> str:
    """A citation (bot/display.py) in mrkdwn, its title linked to the article when it has a safe url."""
    title = _mrkdwn(_line(citation.title), 250)
    url = citation.url or ""
    if _SAFE_URL.fullmatch(url) and not any(c in url for c in "|<>"):
        title = f"<{escape(url)}|{title}>"  # built whole after cutting the title: a link is never cut
    return " · ".join([title, *(_mrkdwn(_line(d), 200) for d in citation.details)])


def _nothing_found(answer: Answer, titles: Sequence[str]) -> list[dict[str, Any]]:
    searched = ", ".join(answer.terms) if answer.terms else "(no searchable words)"
    heading = _mrkdwn(answer.nothing_found(), 500)
    blocks = [_section(f"*{heading}*\nSearched for: {_mrkdwn(searched, 500)}")]
    if titles:
        lines = [f"The knowledge base has {count(len(titles), 'article')}:"]
        lines += [f"• {_mrkdwn(_line(t), 150)}" for t in titles[:MAX_LISTED]]
        if len(titles) > MAX_LISTED:
            lines.append(f"… and {len(titles) - MAX_LISTED} more")
        blocks.append(_section("\n".join(lines)))
    tip = "Tip: ask again with the words the articles would use: an organisation, a programme, a person or a year."
    return [*blocks, _context([tip])]


def _actions(query_id: str, offset: int, next_offset: int | None, share: bool, context: bool = False) -> dict[str, Any]:
    here = _value(query_id, offset)
    buttons = [
        ButtonElement(text="👍 Helpful", action_id=ACTION_VOTE_UP, value=here),
        ButtonElement(text="👎 Not helpful", action_id=ACTION_VOTE_DOWN, value=here),
    ]
    if context:
        buttons.append(ButtonElement(text="Show context", action_id=ACTION_CONTEXT, value=here))
    if next_offset is not None:
        buttons.append(ButtonElement(text="More results", action_id=ACTION_MORE, value=_value(query_id, next_offset)))
    if share:
        buttons.append(ButtonElement(text="Share in channel", action_id=ACTION_SHARE, value=here))
    return ActionsBlock(block_id=ACTIONS_BLOCK_ID, elements=buttons).to_dict()


def _answer_text(answer: Answer, shown: Sequence[Shown]) -> str:
    if answer.abstained:
        return f"{answer.nothing_found()} Searched for: {', '.join(answer.terms) or '(nothing)'}"
    lines = [f"{count(len(shown), 'answer')} from the knowledge base:"]
    for s in shown:
        lines.append(f"{s.rank}. {'…' if s.before else ''}{s.text}{'…' if s.after else ''} ({s.citation.text()})")
    return "\n".join(lines)


def _value(query_id: str, offset: int) -> str:
    # Clamped so that every value we write parses back (a hand-made Answer may have any offset).
    return json.dumps({"q": query_id, "o": min(max(offset, 0), MAX_OFFSET)}, separators=(",", ":"))


# --- other replies -----------------------------------------------------------------------------


def usage_message() -> Message:
    """How to ask: sent for an empty question."""
    lines = [
        "Ask me about NHS and local-government commissioning policy. I answer with verbatim excerpts from "
        "the knowledge base, each with its source.",
        "• In a channel or a group DM: mention me, then your question.",
        "• In a direct message: just type your question.",
        "• Anywhere: `/ask` and your question. Only you see the answer, and you can share it.",
        "• To follow up, reply in the thread of an answer, for example _and in 2016-17?_",
    ]
    return _plain("\n".join(lines), "Ask me a question about commissioning policy, for example with /ask QUESTION.")


def error_message(problem: str) -> Message:
    """Something went wrong while answering; `problem` is a plain-words reason, shown escaped."""
    reason = _mrkdwn(_line(problem), 300) or "something went wrong"
    advice = "Please try again in a minute. If it keeps happening, tell an admin."
    text = f"*Sorry, I couldn't answer that:* {reason}\n{advice}"
    return _plain(text, f"Sorry, I couldn't answer that: {_short(problem, 300) or 'something went wrong'}")


# Short notes of our own wording, sent as a message's plain `text` (no blocks), mostly where only the clicker sees them.
FEEDBACK_NOT_SAVED = "Sorry, I couldn't save your feedback just now. Please try again later."  # the log refused a vote
NOT_YOURS_TO_RATE = "Only the person who asked can rate this answer. Ask me yourself to rate it."  # 👍/👎 by another
FEEDBACK_LOST = "I can't find that question any more, so the feedback was not saved."  # its row is gone (retention)
NOT_YOURS_TO_SHARE = "Only the person who asked can share this answer."  # *Share in channel* by another
UNKNOWN_BUTTON = "That button doesn't belong to a question I know, so I did nothing."  # forged, or another channel's
VOTED = "Thanks for the feedback"  # the fallback text of an answer redrawn to show a vote (`with_vote`)
ADMINS_ONLY = "Only the bot's admins can add or replace documents, so I did nothing."  # a button of an upload
ADDING = "Adding the document… I'll keep answering from the current knowledge base meanwhile."
# Sent when an admin's reload starts: it can take a while, and questions are still answered.
RELOADING = "Reloading the knowledge base… I'll keep answering from the current one meanwhile."


def slack_failure(exc: BaseException) -> str:
    """Why a call to Slack failed, in words for the log and the query log (never shown in Slack)."""
    if isinstance(exc, SlackApiError):
        return slack_refused(exc.response.status_code, exc.response.get("error"))
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"could not reach Slack: {detail}"


def slack_refused(status: int, error: object = None) -> str:
    """Slack answered a call with an error: its HTTP status and, when it gave one, its error code."""
    return f"Slack answered HTTP {status} {error}" if error else f"Slack answered HTTP {status}"


def undelivered(why: str) -> str:
    """A reply that could not be delivered, and `why` (see `slack_failure`)."""
    return f"the reply could not be delivered: {why}"


def too_long_message(length: int, limit: int) -> Message:
    """A question over the length limit: say how long is too long."""
    text = (
        f"That question is {length:,} characters long and I can search at most {limit:,}. "
        "Please ask it in fewer words: the names, organisations and years are what I search for."
    )
    return _plain(text, text)


def slow_down_message(seconds: float, limit: int) -> Message:
    """A person asked more than `limit` questions in a minute: when they may ask again, in whole seconds."""
    text = (
        f"You're asking faster than I can answer. Please try again in {max(1, math.ceil(seconds))} s. "
        f"I answer up to {count(limit, 'question')} a minute from each person, so that everyone gets theirs."
    )
    return _plain(text, text)


def refusal_message() -> Message:
    """A non-admin tried /ask-admin."""
    text = "Sorry, only the bot's admins can use `/ask-admin`. Ask one of them for a reload or the usage figures."
    return _plain(text, text.replace("`", ""))


def admin_help_message(problem: str | None = None) -> Message:
    """What /ask-admin can do; after a command it could not take, `problem` (plain words, escaped) first."""
    lines = [
        *([_mrkdwn(_line(problem), 300)] if problem else []),
        "*Admin commands*",
        "• `/ask-admin reload`: read the knowledge folder again and say what changed",
        "• `/ask-admin add`: how to add a document (upload it to me in a direct message)",
        "• `/ask-admin list [PAGE]`: the documents, with their dates, passages and problems",
        "• `/ask-admin remove NAME`: move a document to the trash (it can be moved back)",
        f"• `/ask-admin stats [PERIOD]`: questions, unanswered questions and feedback over {Stats.PERIOD_WORDS}, "
        f"or PERIOD ({Stats.PERIOD_HELP})",
        "• `/ask-admin help`: this list",
    ]
    fallback = (
        "Admin commands: /ask-admin reload, /ask-admin add, /ask-admin list [PAGE], /ask-admin remove NAME, "
        "/ask-admin stats [PERIOD], /ask-admin help"
    )
    return _plain("\n".join(lines), f"{problem} {fallback}" if problem else fallback)


def reload_message(report: ReloadReport) -> Message:
    """What a reload changed, or why it failed (the previous index keeps answering)."""
    if report.ok:
        version = f" (index version {_mrkdwn(report.version, 40)})" if report.version else ""
        lines = [f"*Knowledge base reloaded* in {report.seconds:.1f} s: {report.totals()}{version}."]
        changes = report.changes()
        lines += [f"*{label.capitalize()}* ({len(names)}): {_listed(names, 800)}" for label, names in changes]
        if not changes:
            lines.append(f"{report.NOTHING_CHANGED.capitalize()}.")
        fallback = f"Knowledge base reloaded: {report.totals()}."
    else:
        reason = _mrkdwn(_line(report.error or "unknown reason"), 1000)
        still = _mrkdwn(report.still_answering(), 200).capitalize()
        lines = [f"*Reload failed:* {reason}", f"{still}."]
        fallback = f"Reload failed: {_short(report.error or 'unknown reason', 300)}. {still}."
    blocks = [_section("\n".join(lines))]
    if report.problems:
        problems = [f"*Problems* ({len(report.problems)}):"]
        for p in report.problems[:MAX_LISTED]:
            what = "skipped" if p.skipped else "loaded with a warning"
            problems.append(f"• {_mrkdwn(_line(p.source), 100)} ({what}): {_mrkdwn(_line(p.message), 150)}")
        if len(report.problems) > MAX_LISTED:
            problems.append(f"… and {len(report.problems) - MAX_LISTED} more")
        blocks.append(_section("\n".join(problems)))
    return Message(_fallback(fallback), blocks)


def stats_message(stats: Stats) -> Message:
    """The query log summarised: questions, abstentions, errors, feedback, top and unanswered questions."""
    since = format_date(stats.since.date())
    summary = stats.totals()
    blocks = [_section(f"*Since {since}:* {summary}.")]
    if stats.top_questions:
        top = [
            f"{i}. {_mrkdwn(_line(q), 200)} (×{n:,})" for i, (q, n) in enumerate(stats.top_questions[:MAX_LISTED], 1)
        ]
        blocks.append(_section("*Most asked*\n" + "\n".join(top)))
    if stats.unanswered:
        latest = [
            f"• {format_date(t.date())} {f'{t:%H:%M %Z}'.strip()}: {_mrkdwn(_line(q), 200)}"
            for t, q in stats.unanswered[:MAX_LISTED]
        ]
        blocks.append(_section("*Latest unanswered*\n" + "\n".join(latest)))
    return Message(_fallback(f"Since {since}: {summary}."), blocks)


# --- documents (admins) ------------------------------------------------------------------------


def add_help_message(folder: str) -> Message:
    """How an admin adds a document: `/ask-admin add`."""
    text = (
        "*To add a document*, upload it to me in a direct message (drag it into the message box, or "
        f"use *+* → *Upload from your computer*): PDF, Word (.docx), web page (.html, .htm) or text (.txt, .md). "
        f"I save it in `{_mrkdwn(_line(folder), 100)}`, read it again and say what I indexed. "
        "A document with the same name is replaced only if you say so. Only admins can add documents."
    )
    return _plain(text, "To add a document, upload it to me in a direct message.")


def upload_refused_message(names: Sequence[str]) -> Message:
    """A non-admin uploaded files to the bot: nothing was downloaded or saved."""
    shown = _listed(names, 300) or "your file"
    text = (
        f"I didn't add {shown} to the knowledge base: only the bot's admins can add documents. "
        "Ask one of them to add it. (You can still ask me questions here.)"
    )
    return _plain(text, "Only the bot's admins can add documents; ask one of them to add it.")


def document_failed_message(verb: str, name: str, reason: str) -> Message:
    """A document could not be added or removed (`verb`); `reason` in plain words. Nothing changed."""
    shown = _mrkdwn(_line(name), 150) or "the file"
    why = _mrkdwn(_line(reason), 500)
    text = f"*I couldn't {verb}* {shown}: {why}\nNothing changed; the knowledge base is as it was."
    return _plain(text, f"I couldn't {verb} {_short(name, 150)}: {_short(reason, 500)}")


def upload_exists_message(source: str, other: str, file_id: str) -> Message:
    """A document named like an upload exists: replace it, or keep both (the upload saved as `other`)."""
    name, alt = _mrkdwn(_line(source), 200), _mrkdwn(_line(other), 200)
    text = (
        f"The knowledge base already has `{name}`. *Replace* it (the old version goes to the trash), "
        f"or *keep both* (the new one is saved as `{alt}`)?"
    )
    buttons = [
        ButtonElement(text="Replace", action_id=ACTION_UPLOAD_REPLACE, value=file_id, style="danger"),
        ButtonElement(text="Keep both", action_id=ACTION_UPLOAD_KEEP_BOTH, value=file_id),
    ]
    blocks = [_section(text), ActionsBlock(elements=buttons).to_dict()]
    return Message(_fallback(f"The knowledge base already has {source}: replace it, or keep both?"), blocks)


def document_line(article: Article, passages: int, problems: Sequence[LoadProblem] = ()) -> str:
    """One document in one line of mrkdwn: title, date, pages or sections, passages, file, warnings."""
    facts = [format_date(article.published), article.extent(), count(passages, "passage")]
    line = f"*{_mrkdwn(_line(article.title), 120)}* · " + " · ".join(f for f in facts if f)
    line += f" · `{_mrkdwn(_line(article.source), 100)}`"
    if problems:
        line += f" · ⚠ {_mrkdwn(_line(problems[0].message), 120)}"
        line += f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return line


def added_message(
    source: str,
    report: ReloadReport,
    indexed: tuple[Article, int] | None,
    problems: Sequence[LoadProblem],
    trashed: str | None = None,
) -> Message:
    """A document saved from Slack and the reload after it: what was indexed (`indexed`: the article
    and its passages), its warnings, the old version's place in the trash, then the reload's report."""
    name = _mrkdwn(_line(source), 200)
    if indexed is not None:
        lines = [f"*Added* `{name}`: " + document_line(indexed[0], indexed[1])]
        lines += [f"⚠ {_mrkdwn(_line(p.message), 200)}" for p in problems[:MAX_LISTED]]
    else:
        lines = [f"*Saved* `{name}`, but it is not in the index: see the problems below."]
    if trashed:
        lines.append(f"The previous version is in the trash: `{_mrkdwn(_line(trashed), 250)}`.")
    reloaded = reload_message(report)
    return Message(_fallback(f"Added {source}. {reloaded.text}"), [_section("\n".join(lines)), *reloaded.blocks])


def documents_message(
    articles: Sequence[Article], counts: Mapping[str, int], problems: Sequence[LoadProblem], page: int = 1
) -> Message:
    """The knowledge base's documents for `/ask-admin list`, LIST_PAGE at a time, and the files skipped."""
    pages = max(1, math.ceil(len(articles) / LIST_PAGE))
    page = min(max(page, 1), pages)
    first = (page - 1) * LIST_PAGE
    shown = articles[first : first + LIST_PAGE]
    notes: dict[str, list[LoadProblem]] = {}
    for p in problems:
        notes.setdefault(p.source, []).append(p)
    head = f"*{count(len(articles), 'document')}*, {count(sum(counts.values()), 'passage')}"
    if pages > 1:
        head += f" (page {page} of {pages}: {first + 1}-{first + len(shown)})"
    blocks = [_section(head)]
    lines = [
        f"{first + i}. " + document_line(a, counts.get(a.source, 0), notes.get(a.source, ()))
        for i, a in enumerate(shown, 1)
    ]
    blocks += [_section("\n".join(lines[i : i + 10])) for i in range(0, len(lines), 10)]
    skipped = [p for p in problems if p.skipped]
    if skipped:
        listed = [
            f"• `{_mrkdwn(_line(p.source), 100)}`: {_mrkdwn(_line(p.message), 150)}" for p in skipped[:MAX_LISTED]
        ]
        more = [f"… and {len(skipped) - MAX_LISTED} more"] if len(skipped) > MAX_LISTED else []
        blocks.append(_section(f"*Not indexed* ({len(skipped)}):\n" + "\n".join(listed + more)))
    if page < pages:
        blocks.append(_context([f"Next page: `/ask-admin list {page + 1}`"]))
    return Message(_fallback(f"{count(len(articles), 'document')} in the knowledge base."), blocks)


def removed_message(source: str, trashed: str, report: ReloadReport) -> Message:
    """A document moved to the trash, how to undo it, and the reload's report."""
    name, where = _mrkdwn(_line(source), 200), _mrkdwn(_line(trashed), 250)
    text = (
        f"*Removed* `{name}`: it is in the trash, `{where}` in the knowledge folder. "
        f"To undo, move it back to `{name}` and run `/ask-admin reload`."
    )
    reloaded = reload_message(report)
    return Message(_fallback(f"Removed {source}. {reloaded.text}"), [_section(text), *reloaded.blocks])


def unknown_document_message(name: str, suggestions: Sequence[str]) -> Message:
    """`/ask-admin remove NAME` named no document; `suggestions`: close names."""
    shown = _mrkdwn(_line(name), 150)
    text = f"There is no document `{shown}` in the knowledge base, so nothing was removed."
    if suggestions:
        text += " Did you mean " + " or ".join(f"`{_mrkdwn(_line(s), 150)}`" for s in suggestions) + "?"
    text += " `/ask-admin list` shows every document's name."
    return _plain(text, f"There is no document {_short(name, 150)} in the knowledge base.")


def remove_usage_message() -> Message:
    text = "Say which document to remove: `/ask-admin remove NAME`, with the name `/ask-admin list` shows."
    return _plain(text, text.replace("`", ""))


# --- building blocks ---------------------------------------------------------------------------


def _mrkdwn(text: str, limit: int, bold: Sequence[tuple[int, int]] = ()) -> str:
    """`text` escaped, `bold` spans (sorted, disjoint: see `_bold_spans`) in *bold*, cut to at most
    `limit` characters with '…'. Cuts fall between characters, so never inside `&amp;`."""
    cut = len(text) > limit  # every character takes at least one
    text = text[:limit]
    pieces: list[tuple[str, int]] = []  # (output, kind): 0 text, 1 opening '*', 2 closing '*'
    spans = iter(bold)
    span = next(spans, None)
    for i, ch in enumerate(text):
        if span and i == span[1]:
            pieces.append(("*", 2))
            span = next(spans, None)
        if span and i == span[0]:
            pieces.append(("*", 1))
        pieces.append((_ESCAPES.get(ch, ch), 0))
    if span and span[0] < len(text):
        pieces.append(("*", 2))
    size = sum(len(p) for p, _ in pieces)
    if not cut and size <= limit:
        return "".join(p for p, _ in pieces)
    while pieces and (size > limit - 2 or pieces[-1][0].isspace() or pieces[-1][1] == 1):  # room for '*' and '…'
        size -= len(pieces.pop()[0])
    opened = next((kind == 1 for _, kind in reversed(pieces) if kind), False)
    return "".join(p for p, _ in pieces) + ("*" if opened else "") + "…"


def _bold_spans(text: str, spans: Sequence[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Highlight spans that Slack will render bold: clipped, trimmed of spaces, widened to whole words
    (Slack ignores a '*' inside a word), merged when they touch (no '**'), split at line breaks (bold
    stops there), and dropped next to a literal '*' in the text."""
    n = min(len(text), limit)
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        a, b = max(a, 0), min(b, n)
        if merged and b <= merged[-1][1]:
            continue  # already inside a bold run
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a >= b:
            continue
        floor = merged[-1][1] if merged else 0  # bounds the widening, which keeps this linear
        while a > floor and text[a - 1].isalnum():
            a -= 1
        while b < n and text[b].isalnum():
            b += 1
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    result = []
    for a, b in merged:
        for line in re.finditer(r"[^\n]+", text[a:b]):
            s, e = a + line.start(), a + line.end()
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if s < e and "*" not in text[max(s - 1, 0) : e + 1]:
                result.append((s, e))
    return result


def _listed(names: Sequence[str], limit: int) -> str:
    shown = ", ".join(_line(n) for n in names[:MAX_LISTED])
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return _mrkdwn(shown, limit - len(more)) + more


def _line(text: str) -> str:
    """Whitespace collapsed and invisible characters written as escapes: titles and names are shown
    on one line, as they are (a right-to-left override in a file name must not reverse it)."""
    return printable(" ".join(text.split()))


def _short(text: str, limit: int) -> str:
    """Plain text on one line, cut to `limit` characters with '…' (escaped later, as a whole)."""
    text = _line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return SectionBlock(text=MarkdownTextObject(text=text, verbatim=True)).to_dict()


def _context(texts: Sequence[str], block_id: str | None = None) -> dict[str, Any]:
    elements = [MarkdownTextObject(text=t, verbatim=True) for t in texts[:10]]
    return ContextBlock(elements=elements, block_id=block_id).to_dict()


def _plain(text: str, fallback: str) -> Message:
    """A one-section message of our own wording; `fallback` is raw text and gets escaped."""
    return Message(_fallback(fallback), [_section(text)])


def _fallback(raw: str) -> str:
    # The fallback is mrkdwn too (and what notifications show), so it is escaped like the rest.
    return _mrkdwn(raw, MAX_FALLBACK) or "…"


def _size(value: Any) -> int:
    """Characters of text in blocks, for the total budget."""
    if isinstance(value, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else _size(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_size(v) for v in value)
    return 0
