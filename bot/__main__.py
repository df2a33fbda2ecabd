"""Command line: python -m bot {start,serve,ask,chat,index,evaluate}."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from bot import console as view
from bot import logs
from bot.config import Settings, SettingsError, load_settings
from bot.corpus import KnowledgeError
from bot.engine import build_index as build
from bot.querylog import QueryLogError
from bot.question import MAX_QUESTION_CHARS, is_too_long
from bot.search import Index

EXAMPLE = 'python -m bot ask "How many CCGs overspent in 2017-18?"'


class UsageError(Exception):
    """The command line asked for something we cannot do; the message says what to do instead."""


def build_index(settings: Settings) -> tuple[Index, float]:
    started = time.perf_counter()
    index = build(settings.knowledge_dir, settings.min_relevance)
    return index, time.perf_counter() - started


def check_question(question: str) -> str:
    question = question.strip()
    if not question:
        raise UsageError(f"the question is empty; try: {EXAMPLE}")
    if is_too_long(question):
        raise UsageError(
            f"the question is {len(question):,} characters long; please ask in under {MAX_QUESTION_CHARS:,}"
        )
    return question


def cmd_ask(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    question = check_question(args.question)
    index, _ = build_index(settings)
    answer = index.search(question, top=args.top or settings.results)
    if args.json:
        print(json.dumps(view.answer_json(answer), ensure_ascii=False, indent=2))
    else:
        out.print(view.render_answer(answer, index.articles))
    return 0


def cmd_index(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    index, seconds = build_index(settings)
    out.print(view.index_table(index.corpus, seconds))
    for warning in index.synonym_warnings:
        out.print(f"synonyms.txt {warning}", style="yellow", markup=False)
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    index, seconds = build_index(settings)
    out.print(
        f"Ask about {len(index.articles)} articles ({len(index.passages)} passages, indexed in {seconds:.2f} s). "
        "Type 'more' for further results, 'quit' or Ctrl-D to leave.",
        style="dim",
    )
    last: tuple[str, int] | None = None
    top = settings.results
    while True:
        try:
            line = input("? ")
        except (EOFError, KeyboardInterrupt):
            out.print()
            return 0
        line = line.strip()
        if line.lower() in {"quit", "exit", ":q"}:
            return 0
        if not line:
            continue
        if line.lower() == "more":
            if last is None:
                out.print("Ask a question first.", style="yellow")
                continue
            question, offset = last[0], last[1] + top
        else:
            try:
                question, offset = check_question(line), 0
            except UsageError as exc:
                out.print(str(exc), style="yellow")
                continue
        answer = index.search(question, top=top, offset=offset)
        if offset and not answer.hits:
            out.print("No more results for that question.", style="yellow")
            continue
        last = (question, offset)
        out.print(view.render_answer(answer, index.articles))


def cmd_serve(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from bot.serve import serve

    asyncio.run(serve(settings, http=args.http, host=args.host, port=args.port))
    return 0


def cmd_start(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    """Serve Slack when .env has its credentials; otherwise chat in the terminal."""
    if settings.slack_bot_token and (settings.slack_app_token or settings.slack_signing_secret):
        http = settings.slack_app_token is None
        return cmd_serve(argparse.Namespace(http=http, host="0.0.0.0", port=3000), settings, out)
    out.print(
        "No Slack tokens in .env (see .env.example): chatting in the terminal instead.",
        style="dim",
    )
    return cmd_chat(args, settings, out)


def cmd_evaluate(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from bot.evaluate import evaluate, parse_questions

    questions = parse_questions(Path(args.questions).read_text(encoding="utf-8"))
    index, _ = build_index(settings)
    report = evaluate(index, questions, top=settings.results)
    out.print(
        f"hit@1 {report.hit_at(1):.3f}  hit@3 {report.hit_at(3):.3f}  "
        f"on-topic abstained {report.wrongly_abstained:.3f}  "
        f"off-topic answered {len(report.off_topic_answered)}/{len(report.off_topic)}"
    )
    for outcome in report.on_topic:
        if outcome.rank != 1:
            out.print(f"  rank {outcome.rank or '-'}: {outcome.question.q}", style="dim")
    for outcome in report.off_topic_answered:
        out.print(f"  answered off-topic: {outcome.question.q}", style="red")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot",
        description="Answers NHS and local-government commissioning questions with cited excerpts from knowledge/.",
        epilog=f"Example: {EXAMPLE}",
    )
    p.add_argument("--knowledge", type=Path, help="knowledge folder (default: KNOWLEDGE_DIR or ./knowledge)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--top", type=int, choices=range(1, 11), metavar="N", help="how many excerpts (1-10)")
    ask.add_argument("--json", action="store_true", help="print JSON instead of text")
    ask.set_defaults(run=cmd_ask)
    sub.add_parser("start", help="run the Slack bot if .env has its tokens, else chat in the terminal").set_defaults(
        run=cmd_start
    )
    serve = sub.add_parser("serve", help="run the Slack bot (Socket Mode, or --http for the Events API)")
    serve.add_argument("--http", action="store_true", help="serve POST /slack/events and GET /healthz over HTTP")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=3000, help="HTTP mode: port (default 3000)")
    serve.set_defaults(run=cmd_serve)
    sub.add_parser("chat", help="ask questions in the terminal").set_defaults(run=cmd_chat)
    sub.add_parser("index", help="load, clean and index knowledge/, and report on each article").set_defaults(
        run=cmd_index
    )
    ev = sub.add_parser("evaluate", help="measure answer quality on a question set")
    ev.add_argument("questions", nargs="?", default="tests/questions.yaml", help="YAML question set")
    ev.set_defaults(run=cmd_evaluate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = Console()
    err = Console(stderr=True)
    try:
        overrides = {"knowledge_dir": args.knowledge} if args.knowledge else {}
        settings = load_settings(**overrides)
        logs.configure(settings.log_level, settings.log_format, settings.secrets())
        return int(args.run(args, settings, out))
    except (SettingsError, KnowledgeError, QueryLogError, UsageError, OSError, ValueError) as exc:
        err.print(f"error: {exc}", style="red", markup=False, highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
