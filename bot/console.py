"""Answers and index reports for the terminal (rich) and as JSON. Pure: builds, never prints.

An answer reads as in Slack (bot/display.py): the top answer's sentence with the question's words in
bold, its compact citation, then results 2 and 3 as sentence and citation, so that on an 80×24
screen the top answer is in view; the whole passages only on request (`context=True`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bot.display import Citation, Shown, cite, lay_out
from bot.models import Answer, Article, Hit, format_date
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
        "text": hit.excerpt,
        "answer": hit.excerpt[hit.answer[0] : hit.answer[1]] if hit.answer else None,
        "answer_span": list(hit.answer) if hit.answer else None,
        "score": round(hit.score, 6),
        "relevance": hit.relevance,
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    """The `ask --json` shape; `results` is empty when the bot abstains."""
    return {
        "question": answer.question,
        "results": [hit_json(h) for h in answer.hits],
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


def render_answer(answer: Answer, articles: Sequence[Article], context: bool = False) -> RenderableType:
    """The answer first, as in Slack; with `context`, each result's whole passage and full citation."""
    if answer.abstained:
        return Group(*nothing_found(answer, articles))
    parts: list[RenderableType] = []
    if context:
        for rank, hit in enumerate(answer.hits, answer.offset + 1):
            parts += [Text(f"{rank}. ", style="bold") + highlighted(hit.excerpt, hit.highlights)]
            parts += [citation(cite(hit, full=True)), Text("")]
    else:
        for shown in lay_out(answer):
            parts += [shown_answer(shown), citation(shown.citation), Text("")]
    if answer.more:
        parts.append(Text("More results: ask again with --top, or type 'more' in chat.", style="dim"))
    return Group(*parts)


def nothing_found(answer: Answer, articles: Sequence[Article]) -> list[Text]:
    searched = ", ".join(answer.terms) if answer.terms else "(no searchable words)"
    lines = [
        Text("Nothing in the knowledge base answers that.", style="bold"),
        Text(f"Searched for: {searched}"),
        Text(f"The knowledge base has {len(articles)} article{'s' if len(articles) != 1 else ''}:"),
    ]
    lines.extend(Text(f"  • {a.title}") for a in articles[:10])
    if len(articles) > 10:
        lines.append(Text(f"  … and {len(articles) - 10} more"))
    return lines


def index_table(index: Index, seconds: float, how: str = "indexed") -> RenderableType:
    """A table of the index's articles, with their problems; `how` it was made ('indexed', 'loaded')."""
    counts = index.passages.counts()
    table = Table(title=f"Knowledge base: {index.folder}")
    for column in ("File", "Title", "Published", "Passages", "Notes"):
        table.add_column(column, overflow="fold")
    notes: dict[str, list[str]] = {}
    for problem in index.problems:
        notes.setdefault(problem.source, []).append(problem.message)
    for article in index.articles:
        # Text cells: file names and titles are data, never rich markup.
        table.add_row(
            Text(article.source),
            Text(article.title),
            format_date(article.published) or "",
            str(counts[article.source]),
            Text("; ".join(notes.pop(article.source, [])), style="yellow"),
        )
    for source, messages in notes.items():
        table.add_row(Text(source), "", "", "", Text("; ".join(messages), style="red"))
    summary = Text(
        f"{len(index.articles)} articles, {len(index.passages)} passages, {how} in {seconds:.2f} s",
        style="bold",
    )
    return Group(table, summary)
