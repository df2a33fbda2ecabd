"""Answers and index reports for the terminal (rich) and as JSON. Pure: builds, never prints.

An answer reads as in Slack (bot/display.py): the top answer's sentence with the question's words in
bold, its compact citation, then results 2 and 3 as sentence and citation, so that on an 80×24
screen the top answer is in view; the whole passages only on request (`context=True`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bot.display import Citation, Shown, cite, lay_out
from bot.evaluate import Report
from bot.extract import kind_of
from bot.models import Answer, Article, Hit, count, format_date
from bot.search import Index


def hit_json(hit: Hit) -> dict[str, Any]:
    article = hit.passage.article
    return {
        "source": article.source,
        "passage": hit.passage.id,
        "title": article.title,
        "published": article.published.isoformat() if article.published else None,
        "publisher": article.publisher,
        "url": article.url,
        "author": article.author,
        "page": hit.passage.page,
        "section": hit.passage.section,
        "text": hit.excerpt,
        "answer": hit.excerpt[hit.answer[0] : hit.answer[1]] if hit.answer else None,
        "answer_span": list(hit.answer) if hit.answer else None,
        "score": round(hit.score, 6),
        "relevance": hit.relevance,
        "strength": hit.strength,
    }


def answer_json(answer: Answer, typed: str | None = None) -> dict[str, Any]:
    """The `ask --json` shape; `results` is empty when the bot abstains; `searched` is the question
    with any misspelling corrected. With `typed` (`chat --json`), `question` is as typed and
    `resolved` the question read with its conversation (before spelling correction)."""
    question = {"question": answer.question} if typed is None else {"question": typed, "resolved": answer.question}
    return {
        **question,
        "results": [hit_json(h) for h in answer.hits],
        "searched": answer.searched,
        "searched_for": list(answer.terms),
        "took_ms": answer.took_ms,
    }


def citation(value: Citation) -> Text:
    """A citation (bot/display.py) on its own line, indented under its answer."""
    return Text(f"   {value.text()}", style="cyan")


def highlighted(text: str, spans: Sequence[tuple[int, int]]) -> Text:
    shown = Text(text)
    for start, end in spans:
        shown.stylize("bold yellow", start, end)
    return shown


def shown_answer(shown: Shown) -> Text:
    """A result's answer as laid out: its number, then the sentence(s), the question's words in bold."""
    return Text.assemble(
        (f"{shown.rank}. ", "bold"),
        "…" if shown.before else "",
        highlighted(shown.text, shown.bold),
        "…" if shown.after else "",
    )


def render_answer(
    answer: Answer, articles: Sequence[Article], typed: str | None = None, context: bool = False
) -> RenderableType:
    """The answer first, as in Slack; with `context`, each result's whole passage and full citation.
    With `typed`, what was searched when it differs (`Answer.searching_for`)."""
    searching = answer.searching_for(typed)
    parts: list[RenderableType] = [Text(searching, style="dim")] if searching else []
    if answer.abstained:
        return Group(*parts, *nothing_found(answer, articles))
    if context:
        for rank, hit in enumerate(answer.hits, answer.offset + 1):
            parts += [Text(f"{rank}. ", style="bold") + highlighted(hit.excerpt, hit.highlights)]
            parts += [citation(cite(hit, full=True)), Text("")]
    else:
        for shown in lay_out(answer, drop=False):
            parts += [shown_answer(shown), citation(shown.citation), Text("")]
    return Group(*parts)


def more_results(answer: Answer, how: str | None) -> Text | None:
    """The line under an answer that has further results, saying `how` to see them where there is a way."""
    return Text(f"More results: {how}.", style="dim") if answer.more and how else None


def nothing_found(answer: Answer, articles: Sequence[Article]) -> list[Text]:
    searched = ", ".join(answer.terms) if answer.terms else "(no searchable words)"
    lines = [
        Text(answer.nothing_found(), style="bold"),
        Text(f"Searched for: {searched}"),
        Text(f"The knowledge base has {count(len(articles), 'article')}:"),
    ]
    lines.extend(Text(f"  • {a.title}") for a in articles[:10])
    if len(articles) > 10:
        lines.append(Text(f"  … and {len(articles) - 10} more"))
    return lines


def index_table(index: Index, seconds: float, how: str = "indexed") -> RenderableType:
    """A table of the index's articles, with their problems; `how` it was made ('indexed', 'loaded')."""
    counts = index.passages.counts()
    table = Table(title=f"Knowledge base: {index.folder}")
    for column in ("File", "Type", "Title", "Published", "Pages / sections", "Passages", "Notes"):
        table.add_column(column, overflow="fold")
    notes: dict[str, list[str]] = {}
    for problem in index.problems:
        notes.setdefault(problem.source, []).append(problem.message)
    for article in index.articles:
        # Text cells: file names and titles are data, never rich markup.
        table.add_row(
            Text(article.source),
            kind_of(article.source),
            Text(article.title),
            format_date(article.published) or "",
            article.extent(),
            str(counts[article.source]),
            Text("; ".join(notes.pop(article.source, [])), style="yellow"),
        )
    for source, messages in notes.items():
        table.add_row(Text(source), "", "", "", "", "", Text("; ".join(messages), style="red"))
    summary = Text(
        f"{count(len(index.articles), 'article')}, {count(len(index.passages), 'passage')}, {how} in {seconds:.2f} s",
        style="bold",
    )
    return Group(table, summary)


def evaluation_table(reports: Sequence[tuple[str, Report]]) -> Table:
    """Each question set's figures side by side: one column a set, one row a measure."""
    table = Table(title="Answer quality", title_justify="left")
    table.add_column("measure")
    for name, _ in reports:
        table.add_column(name, justify="right")

    def share(part: int, whole: int) -> str:
        return f"{part / whole:.3f} ({part}/{whole})" if whole else "-"

    def row(label: str, cell: Callable[[Report], str]) -> None:
        table.add_row(label, *(cell(report) for _, report in reports))

    row("hit@1", lambda r: share(r.hits_at(1), len(r.on_topic)))
    row("hit@3", lambda r: share(r.hits_at(3), len(r.on_topic)))
    row("pinpoint", lambda r: share(r.pinpointed, len(r.on_topic)))
    row("false abstentions", lambda r: share(len(r.false_abstentions), len(r.on_topic)))
    row("off-topic abstained", lambda r: share(len(r.off_topic) - len(r.off_topic_answered), len(r.off_topic)))
    for kind in ("domain", "general"):

        def abstained(report: Report, kind: str = kind) -> str:
            asked = report.off_topic_of_kind(kind)
            return share(sum(not o.answered for o in asked), len(asked))

        row(f"  of them in {kind} words", abstained)
    row("follow-ups right (top 3)", lambda r: share(r.follow_ups_right_at(3), len(r.follow_ups)))
    row("follow-ups right (rank 1)", lambda r: share(r.follow_ups_right_at(1), len(r.follow_ups)))
    return table


def misses(report: Report) -> list[Text]:
    """What a set's figures are made of: answerable questions not first, off-topic ones answered,
    follow-ups not first (with what they were read as)."""
    lines = [Text(f"  rank {o.rank or '-'}: {o.question.q}", style="dim") for o in report.on_topic if o.rank != 1]
    lines += [Text(f"  answered off-topic: {o.question.q}", style="red") for o in report.off_topic_answered]
    for follow_up in report.follow_ups:
        if not follow_up.right_at(1):
            searched = follow_up.resolved if follow_up.resolved is not None else "(not answered)"
            lines.append(Text(f"  follow-up rank {follow_up.rank or '-'}: {follow_up.question.q} -> {searched}", "dim"))
    return lines
