"""Command line: python -m bot {start,serve,ask,chat,index,evaluate,queries}."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import importlib.metadata
import json
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from rich.console import Console

from bot import console as view
from bot import english, logs, review
from bot.chatlog import TerminalLog, local_user
from bot.config import Settings, SettingsError, load_settings, require, wants_slack
from bot.conversation import Conversation
from bot.corpus import KnowledgeError
from bot.engine import open_index
from bot.models import Answer, QueryRecord, Stats, count
from bot.progress import Stages
from bot.querylog import QueryLog, QueryLogError
from bot.question import MAX_QUESTION_CHARS, is_too_long, normalise
from bot.search import Index

EXAMPLE = 'python -m bot ask "How many CCGs overspent in 2017-18?"'
MAX_TOP = 10  # the most excerpts --top asks for
NEW_CONVERSATION = {"/new", "/reset"}  # typed in chat: forget the conversation so far
LIST_LIMIT = 50  # questions `queries` lists unless --limit says otherwise
MAX_LIMIT = 2**63 - 1  # the largest number SQLite takes as a LIMIT
T = TypeVar("T")
DEFAULT_QUESTION_SETS = (
    Path("tests/questions.yaml"),
    Path("tests/questions_blind.yaml"),
)  # evaluate, from the repository


def console(stderr: bool = False) -> Console:
    """Standard output or error for rich; piped or redirected, whole lines (no wrapping at 80 columns,
    no padding), for whatever reads them to wrap."""
    terminal = Console(stderr=stderr)
    terminal.soft_wrap = not terminal.is_terminal
    return terminal


class UsageError(Exception):
    """The command line asked for something we cannot do; the message says what to do instead."""


def build_index(settings: Settings, quiet: bool = False) -> tuple[Index, float]:
    index, seconds, _ = open_saved_or_build(settings, quiet)
    return index, seconds


def open_saved_or_build(settings: Settings, quiet: bool = False) -> tuple[Index, float, str]:
    """The index (the saved one when the knowledge is unchanged), the seconds it took, and
    'indexed' or 'loaded'; warns on stderr when a new index cannot be saved for next time.

    A build that takes over a second shows its stages on stderr, unless `quiet` (--json) or the
    output is not a terminal (a pipe, a file, a script)."""
    started = time.perf_counter()
    err = console(stderr=True)
    shown = not quiet and sys.stdout.isatty() and err.is_terminal
    with Stages(err, shown) as stages:
        opened = open_index(
            settings.knowledge_dir,
            settings.min_relevance,
            settings.command_line_index_file,
            settings.max_file_bytes,
            stages,
        )
    if opened.save_error:
        print(f"note: could not save the index for next time ({opened.save_error})", file=sys.stderr)
    return opened.index, time.perf_counter() - started, "loaded" if opened.source == "saved" else "indexed"


def check_question(question: str) -> str:
    question = normalise(question)  # as a question from Slack is
    if not question:
        raise UsageError(f"the question is empty; try: {EXAMPLE}")
    if is_too_long(question):
        raise UsageError(
            f"the question is {len(question):,} characters long; please ask in under {MAX_QUESTION_CHARS:,}"
        )
    return question


def cmd_ask(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    if args.question == "-":
        return ask_each_line(args, settings, out)
    question = check_question(args.question)
    index, _ = build_index(settings, quiet=args.json)
    top = args.top or settings.results
    answer = index.search(question, top=top)
    if args.json:
        print(json.dumps(view.answer_json(answer), ensure_ascii=False, indent=2))
    else:
        out.print(view.render_answer(answer, index.articles, context=args.context))
        print_more(out, answer, ask_more(top))
    return 0


def ask_more(top: int) -> str | None:
    """How `ask` shows further results: a larger --top, while there is one."""
    return f"ask again with --top {min(top * 2, MAX_TOP)}" if top < MAX_TOP else None


def print_more(out: Console, answer: Answer, how: str | None) -> None:
    line = view.more_results(answer, how)
    if line is not None:
        out.print(line)


def ask_each_line(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    """`ask -`: one question per line of standard input, each answered as soon as it is read.

    With --json, one JSON object per line (JSON Lines), flushed at once so a pipe sees each answer
    as it comes; a line that is not a usable question gets {"question": ..., "error": ...} and
    the rest go on. Blank lines are skipped."""
    index, _ = build_index(settings, quiet=args.json)
    top = args.top or settings.results
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            answer = index.search(check_question(text), top=top)
        except UsageError as exc:
            if args.json:
                print(json.dumps({"question": text, "error": str(exc)}, ensure_ascii=False), flush=True)
            else:
                out.print(f"{text[:80]}: {exc}", style="yellow", markup=False, highlight=False)
            continue
        if args.json:
            print(json.dumps(view.answer_json(answer), ensure_ascii=False), flush=True)
        else:
            out.print(f"? {answer.question}", style="bold", markup=False, highlight=False)
            out.print(view.render_answer(answer, index.articles, context=args.context))
            print_more(out, answer, ask_more(top))
    return 0


def cmd_index(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    index, seconds, how = open_saved_or_build(settings)
    out.print(view.index_table(index, seconds, how))
    for warning in index.synonym_warnings:
        out.print(f"synonyms.txt {warning}", style="yellow", markup=False)
    saved = settings.command_line_index_file
    where = f"saved index: {saved} (INDEX_PATH to move it)" if saved else "the index is not saved (SAVE_INDEX=false)"
    out.print(where, style="dim", markup=False, highlight=False)
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    """A conversation in the terminal: each question is read with the one before it and its answer
    (bot/conversation.py); an empty line or /new starts a new conversation. Each question is logged
    (surface 'terminal'), so `queries` and Datasette have it; logging never holds the chat up."""
    if getattr(args, "json", False):
        return chat_json(args, settings)
    index, seconds, how = open_saved_or_build(settings)
    # The speller's word list (0.3 s) is read while the first question is typed, not after it.
    threading.Thread(target=english.words, name="english-words", daemon=True).start()
    out.print(
        f"Ask about {count(len(index.articles), 'article')} ({count(len(index.passages), 'passage')}, "
        f"{how} in {seconds:.2f} s). Follow-ups read the question before; an empty line or '/new' starts afresh. "
        "Type 'more' for further results, 'context' for the passages of the last answer, 'quit' or Ctrl-D to leave. "
        f"Questions are logged to {settings.query_log_path}.",
        style="dim",
        markup=False,
        highlight=False,
    )
    log = TerminalLog(settings.query_log_path, settings.user_key, local_user())
    try:
        chat_loop(index, settings.results, out, log)
    finally:
        note = log.close()
        if note:
            console(stderr=True).print(note, style="yellow", markup=False, highlight=False)
    return 0


def chat_loop(index: Index, top: int, out: Console, log: TerminalLog) -> None:
    conversation = Conversation()
    last: tuple[str, int] | None = None
    while True:
        note = log.news()
        if note:
            console(stderr=True).print(note, style="yellow", markup=False, highlight=False)
        try:
            line = input("? ")
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        line = line.strip()
        if line.lower() in {"quit", "exit", ":q"}:
            return
        if not line or line.lower() in NEW_CONVERSATION:
            if conversation.last is not None:
                out.print("New conversation.", style="dim")
            conversation, last = Conversation(), None
            continue
        context = line.lower() == "context"
        if context:
            if last is None:
                out.print("Ask a question first.", style="yellow")
                continue
            question, offset = last
        elif line.lower() == "more":
            if last is None:
                out.print("Ask a question first.", style="yellow")
                continue
            question, offset = last[0], last[1] + top
        else:
            try:
                resolved = conversation.ask(check_question(line))
            except UsageError as exc:
                out.print(str(exc), style="yellow")
                continue
            if resolved is None:
                continue  # "thanks", "ok": nothing to answer
            question, offset = resolved, 0
        answer = index.search(question, top=top, offset=offset)
        if offset and not answer.hits:
            out.print("No more results for that question.", style="yellow")
            continue
        if not offset and not context:  # a new question: "more" and "context" show the last one again
            conversation.answered(answer)
            log.record(answer, normalise(line), index.version)
        last = (question, offset)
        out.print(
            view.render_answer(
                answer, index.articles, typed=None if offset or context else normalise(line), context=context
            )
        )
        print_more(out, answer, "type 'more'")


def chat_json(args: argparse.Namespace, settings: Settings) -> int:
    """`chat --json`: standard input's lines are one conversation (an empty line starts a new one);
    one JSON object per line: `ask --json`'s, with `question` as typed and `resolved` the question
    searched. An acknowledgement ("thanks") gets `resolved` null and no results; a line that is not a
    usable question gets {"question": ..., "error": ...}."""
    index, _ = build_index(settings, quiet=True)
    top = args.top or settings.results
    conversation = Conversation()
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        if not text.strip() or text.strip().lower() in NEW_CONVERSATION:
            conversation = Conversation()
            continue
        try:
            resolved = conversation.ask(check_question(text))
        except UsageError as exc:
            print(json.dumps({"question": text, "error": str(exc)}, ensure_ascii=False), flush=True)
            continue
        if resolved is None:
            print(json.dumps({"question": text, "resolved": None, "results": []}, ensure_ascii=False), flush=True)
            continue
        answer = index.search(resolved, top=top)
        conversation.answered(answer)
        print(json.dumps(view.answer_json(answer, typed=text), ensure_ascii=False), flush=True)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from bot.serve import serve

    asyncio.run(serve(settings, http=args.http, host=args.host, port=args.port))
    return 0


def cmd_start(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    """Serve Slack when .env has any Slack setting (naming what is missing, if one is); otherwise
    chat in the terminal."""
    if wants_slack(settings):
        require(settings, http=None)
        http = settings.slack_app_token is None
        return cmd_serve(argparse.Namespace(http=http, host="0.0.0.0", port=3000), settings, out)
    out.print(
        "No Slack tokens in .env (see .env.example): chatting in the terminal instead.",
        style="dim",
    )
    return cmd_chat(args, settings, out)


def cmd_evaluate(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    from bot.evaluate import evaluate, parse_set

    paths = [Path(p) for p in args.questions] or [p for p in DEFAULT_QUESTION_SETS if p.is_file()]
    if not paths:
        raise UsageError("no question set: name one (a YAML file, see tests/questions.yaml)")
    sets = []
    for path in paths:
        try:
            sets.append((path, parse_set(path.read_text(encoding="utf-8"))))
        except OSError as exc:
            raise UsageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        except ValueError as exc:  # the file is not a question set; its name leads the message
            raise UsageError(f"{path}: {exc}") from None
    index, _ = build_index(settings)
    reports = [
        (path, evaluate(index, qs.questions, top=settings.results, conversations=qs.conversations), qs.held_out)
        for path, qs in sets
    ]
    out.print(view.evaluation_table([(p.name + (" (held out)" if held else ""), r) for p, r, held in reports]))
    for path, report, held_out in reports:
        if held_out:  # what missed would invite tuning on it: its figures only
            out.print(f"{path.name} is held out: which of its questions missed is not shown.", style="dim")
            continue
        lines = view.misses(report)
        if lines:
            out.print(f"{path.name}: not first, or answered when off-topic:")
            for line in lines:
                out.print(line)
    return 0


def read_log(settings: Settings, read: Callable[[QueryLog], Awaitable[T]]) -> T:
    """Run `read` on the query log opened read-only: reviewing never creates, upgrades or writes it."""

    async def run() -> T:
        log = await QueryLog.open_read_only(settings.query_log_path, user_key=settings.user_key)
        try:
            return await read(log)
        finally:
            await log.close()

    return asyncio.run(run())


def cmd_queries(args: argparse.Namespace, settings: Settings, out: Console) -> int:
    now = dt.datetime.now(dt.UTC)
    if args.view == "summary":
        return queries_summary(args, settings, out, review.period_start(args.since, now))
    since = review.parse_since(args.since, now) if args.since else None
    limit = args.limit or LIST_LIMIT
    rows = read_log(
        settings,
        lambda log: log.recent(limit, since, args.unanswered, args.feedback, args.user, args.channel),
    )
    if not rows:
        filters = review.describe_filters(since, args.unanswered, args.feedback, args.user, args.channel)
        # On stderr for --json and --csv, whose standard output stays machine-readable (an empty list, a header).
        (console(stderr=True) if args.json or args.csv else out).print(
            f"No questions match ({filters}).", markup=False, highlight=False
        )
    if args.json:
        print(review.records_json(rows))
    elif args.csv:
        # Bytes, so the encoding is UTF-8 whatever the locale, and line ends stay \r\n; the byte-order mark
        # tells Excel the file is UTF-8 (without it, "£" opens as "Â£").
        sys.stdout.flush()
        sys.stdout.buffer.write(review.records_csv(rows).encode("utf-8-sig"))
        sys.stdout.buffer.flush()
    elif rows:
        out.print(review.questions_table(rows, limit, width=out.width))
    return 0


def queries_summary(args: argparse.Namespace, settings: Settings, out: Console, since: dt.datetime) -> int:
    options = ("limit", "unanswered", "feedback", "user", "channel", "csv")
    used = [f"--{name}" for name in options if getattr(args, name) not in (None, False)]
    if used:
        raise UsageError(f"{', '.join(used)}: only for the list of questions; 'queries summary' takes --since, --json")

    async def read(log: QueryLog) -> tuple[Stats, list[dt.datetime], list[QueryRecord]]:
        return await log.stats(since, top=10), await log.asked_times(since), await log.gap_questions(since)

    stats, times, candidates = read_log(settings, read)
    note = None
    try:
        index, _ = build_index(settings, quiet=args.json)
        still_missing: Callable[[str], bool] = functools.partial(_still_missing, index)
    except (KnowledgeError, OSError, ValueError) as exc:
        note = f"The knowledge base could not be loaded ({exc}): the gaps are the words as logged when asked."
        still_missing = _always
    found = review.gaps(candidates, still_missing)
    days = review.per_day(times)
    if args.json:
        print(review.summary_json(stats, days, found))
        if note:
            console(stderr=True).print(note, markup=False, highlight=False)
    else:
        out.print(review.summary_view(stats, days, found, note))
    return 0


def _still_missing(index: Index, word: str) -> bool:
    """Whether the knowledge base still lacks `word`, even through a synonym (it may have gained it since)."""
    return bool(index.unknown_words(word))


def _always(word: str) -> bool:
    return True


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    if value > MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_LIMIT:,}")
    return value


def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is a number from 0 to 65535")
    return value


def program() -> str:
    """The name the command was run by, for usage lines: the console script's, or `python -m bot`."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "python -m bot" if name in {"", "__main__.py", "-c"} else name


def version() -> str:
    try:
        return importlib.metadata.version("commissioning-policy-bot")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed: pip install -e .)"


def parser() -> argparse.ArgumentParser:
    prog = program()
    p = argparse.ArgumentParser(
        prog=prog,
        description="Answers NHS and local-government commissioning questions with cited excerpts from knowledge/.",
        epilog=f"Example: {EXAMPLE.replace('python -m bot', prog)}",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    knowledge_help = "knowledge folder (default: KNOWLEDGE_DIR or ./knowledge)"
    p.add_argument("--knowledge", type=Path, help=knowledge_help)
    # --knowledge after the command too (`ask --knowledge DIR "..."`); SUPPRESS keeps one given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--knowledge", type=Path, default=argparse.SUPPRESS, help=knowledge_help)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help, description=description)

    top_help = f"how many excerpts (1-{MAX_TOP})"
    ask = command("ask", help="answer one question")
    ask.add_argument("question", help="the question, in quotes; - reads one question per line from standard input")
    ask.add_argument("--top", type=int, choices=range(1, MAX_TOP + 1), metavar="N", help=top_help)
    ask.add_argument("--json", action="store_true", help="print JSON instead of text")
    ask.add_argument("--context", action="store_true", help="show each result's whole passage, not just its answer")
    ask.set_defaults(run=cmd_ask)
    command("start", help="run the Slack bot if .env has Slack settings, else chat in the terminal").set_defaults(
        run=cmd_start
    )
    serve = command("serve", help="run the Slack bot (Socket Mode, or --http for the Events API)")
    serve.add_argument("--http", action="store_true", help="serve POST /slack/events and GET /healthz over HTTP")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=port, default=3000, help="HTTP mode: port (default 3000)")
    serve.set_defaults(run=cmd_serve)
    chat = command("chat", help="ask questions in the terminal; follow-ups read the question before")
    chat.add_argument(
        "--json",
        action="store_true",
        help="read standard input's lines as one conversation (an empty line starts a new one), print JSON Lines",
    )
    chat.add_argument("--top", type=int, choices=range(1, MAX_TOP + 1), metavar="N", help=f"--json: {top_help}")
    chat.set_defaults(run=cmd_chat)
    command("index", help="load, clean and index knowledge/, and report on each article").set_defaults(run=cmd_index)
    ev = command("evaluate", help="measure answer quality on a question set")
    ev.add_argument(
        "questions",
        nargs="*",
        help="YAML question sets (default: tests/questions.yaml, the tuning set, and tests/questions_blind.yaml, "
        "held out)",
    )
    ev.set_defaults(run=cmd_evaluate)
    q = command(
        "queries",
        help="review the query log (QUERY_LOG_PATH): recent questions, or 'summary'",
        description="Recent questions from the query log, newest first; 'summary' for totals, the most asked "
        "questions and the gaps in the knowledge base.",
    )
    q.add_argument("view", nargs="?", choices=["summary"], help="totals, questions per day, most asked, gaps")
    q.add_argument("--db", type=Path, metavar="PATH", help="the query log (default: QUERY_LOG_PATH, or queries.db)")
    q.add_argument(
        "--since", metavar="WHEN", help=f"{Stats.PERIOD_HELP} (summary: {Stats.PERIOD_WORDS}, as /ask-admin stats)"
    )
    q.add_argument("--limit", type=positive, metavar="N", help=f"at most N (default {LIST_LIMIT})")
    q.add_argument("--unanswered", action="store_true", help="only questions the bot found nothing for")
    q.add_argument("--feedback", choices=["up", "down"], help="only questions voted up, or down")
    q.add_argument(
        "--user", metavar="U…", help="only this user's questions (a Slack id; in the terminal, a login name)"
    )
    q.add_argument("--channel", metavar="C…", help="only questions in this channel (D… for a direct message)")
    export = q.add_mutually_exclusive_group()
    export.add_argument("--json", action="store_true", help="print JSON (times in UTC)")
    export.add_argument("--csv", action="store_true", help="print CSV for a spreadsheet (times in UTC)")
    q.set_defaults(run=cmd_queries)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = console()
    err = console(stderr=True)
    try:
        overrides: dict[str, object] = {"knowledge_dir": args.knowledge} if args.knowledge else {}
        if getattr(args, "db", None):
            overrides["query_log_path"] = args.db
        settings = load_settings(**overrides)
        logs.configure(settings.log_level, settings.log_format, settings.secrets())
        return int(args.run(args, settings, out))
    except (SettingsError, KnowledgeError, QueryLogError, UsageError, OSError, ValueError) as exc:
        err.print(f"error: {exc}", style="red", markup=False, highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
