"""The command line, run as a user runs it: a real process, real knowledge folder."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import importlib.metadata
import io
import json
import os
import pty
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from bot import console as view
from bot.display import lay_out
from bot.evaluate import parse_questions
from bot.models import Stats
from bot.privacy import pseudonym
from bot.search import DEFAULT_MIN_RELEVANCE, Index
from tests.conftest import ROOT

# Settings a developer's shell may hold that would change what these tests see.
UNSET = {"KNOWLEDGE_DIR", "RESULTS", "MIN_RELEVANCE", "INDEX_PATH", "SAVE_INDEX", "HASH_USER_IDS", "USER_ID_HASH_KEY"}
UNSET |= {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"}


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's cache folder for every command run here: the command line keeps its saved index there."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def own_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cache: Path) -> None:
    """Each test's query log in its own folder, and the index in a cache folder of the tests' own, never
    in the repository or the developer's home."""
    monkeypatch.setenv("QUERY_LOG_PATH", str(tmp_path / "queries.db"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in UNSET}
    environment.update(env or {}, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


def test_ask_json_cites_the_nao_article() -> None:
    result = run("ask", "How many CCGs overspent in 2017-18?", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    first = data["results"][0]
    assert data["question"] == "How many CCGs overspent in 2017-18?"
    assert len(data["results"]) == 3
    assert first["source"] == "000_eb80a55c94ec531c.txt"
    assert first["passage"] == "000-eb80a55c94ec531c-2"
    assert first["title"] == "Spending watchdog concern at proportion of CCGs failing to function effectively"
    assert "75 of 207 CCGs" in first["text"]
    assert set(first) >= {"source", "passage", "title", "published", "text", "answer", "answer_span", "score"}
    start, end = first["answer_span"]
    assert first["text"][start:end] == first["answer"]  # the answer is verbatim, a span of the excerpt
    assert first["answer"].startswith("In 2017-18, 75 of 207 CCGs (36%) spent more than planned")


def test_ask_reads_a_question_as_slack_does_invisible_characters_and_short_financial_years() -> None:
    """The command line and Slack hand the search the same question: a zero-width space pasted into
    a word does not split it, and "17/18" is the financial year 2017-18."""
    result = run("ask", "  How many CCGs over\u200bspent in 17/18?", "--json", "--top", "1")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["question"] == "How many CCGs overspent in 17/18?"
    assert "overspent" in data["searched_for"]
    assert "75 of 207 CCGs" in data["results"][0]["text"]


def test_ask_json_abstains_with_empty_results() -> None:
    result = run("ask", "What's the weather in Leeds tomorrow?", "--json", "--top", "5")
    assert result.returncode == 0
    assert json.loads(result.stdout)["results"] == []


def test_ask_text_leads_with_the_answer_and_its_compact_citation() -> None:
    result = run("ask", "How many CCGs overspent in 2017-18?")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "1. In 2017-18, 75 of 207 CCGs (36%) spent more than planned with a total overspend of £213m across all CCGs."
    )
    assert lines[1] == (
        "   Spending watchdog concern at proportion of CCGs… · Local Government Lawyer · "
        "000_eb80a55c94ec531c.txt, passage 2 · Direct match"
    )
    assert "The report found" not in result.stdout  # the rest of the passage only with --context
    assert [line[:3] for line in lines if line[:1].isdigit()] == ["1. ", "2. ", "3. "]


def test_ask_context_shows_the_whole_passages_with_full_citations() -> None:
    result = run("ask", "How many CCGs overspent in 2017-18?", "--top", "1", "--context")
    assert result.returncode == 0
    assert result.stdout.startswith("1. The report found that an increasing number of CCGs had been overspending")
    assert "In 2017-18, 75 of 207 CCGs (36%)" in result.stdout
    assert "   Spending watchdog concern at proportion of CCGs failing to function effectively · " in result.stdout
    assert "000_eb80a55c94ec531c.txt, passage 2" in result.stdout


def test_the_top_answer_is_in_view_on_an_80_by_24_terminal(index: Index) -> None:
    """For every tuning question answered, the top answer's sentence and its citation are on the
    first 24 lines of an 80-column terminal, before results 2 and 3."""
    questions = [q.q for q in parse_questions((ROOT / "tests" / "questions.yaml").read_text(encoding="utf-8"))]
    heights = []
    for question in questions:
        answer = index.search(question, top=3)
        if answer.abstained:
            continue
        terminal = Console(width=80, record=True, file=io.StringIO(), color_system=None)
        terminal.print(view.render_answer(answer, index.articles))
        lines = terminal.export_text().splitlines()
        top = lay_out(answer)[0]
        cited = next(i for i, line in enumerate(lines) if line.startswith(f"   {top.citation.title}"))
        end = lines.index("", cited)  # a blank line follows each result
        first = 0
        if answer.searching_for():  # a corrected spelling: one line above the answer says what was searched
            first = next(i for i, line in enumerate(lines) if line.startswith("1. "))
            assert " ".join(" ".join(lines[:first]).split()) == answer.searching_for()
        assert " ".join(" ".join(lines[first:cited]).split()) == f"1. {top.text}{'…' if top.after else ''}"
        assert " ".join(" ".join(lines[cited:end]).split()) == top.citation.text()
        heights.append(end)
    assert len(heights) > 100 and max(heights) <= 24
    print(f"the top answer and its citation take {statistics.median(heights)} lines on median, {max(heights)} at most")


def test_ask_text_says_plainly_when_nothing_is_found() -> None:
    result = run("ask", "recipe for banana bread")
    assert "Nothing in the knowledge base answers that." in result.stdout
    assert "Searched for: recipe, banana, bread" in result.stdout
    assert "Commissioning aid is terminated despite saving councils millions" in result.stdout


def test_empty_and_huge_questions_are_errors_on_stderr() -> None:
    empty = run("ask", "   ")
    huge = run("ask", "council " * 1000)
    assert (empty.returncode, empty.stdout) == (2, "")
    assert "the question is empty" in empty.stderr
    assert huge.returncode == 2 and "7,999 characters long" in huge.stderr


def test_index_prints_the_articles_table() -> None:
    result = run("index")
    assert result.returncode == 0
    for text in ("NHS commissioning power", "3 Nov 2017", "5 articles", "passages"):
        assert text in result.stdout


def test_index_fails_without_a_usable_article(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00binary")
    result = run("--knowledge", str(tmp_path), "index")
    assert result.returncode == 2
    assert "no usable article" in result.stderr and "bad.txt: binary file, not text" in result.stderr


def test_missing_knowledge_folder_names_the_fix(tmp_path: Path) -> None:
    result = run("ask", "CCGs", env={"KNOWLEDGE_DIR": str(tmp_path / "missing")})
    assert result.returncode == 2
    assert "does not exist: set KNOWLEDGE_DIR or pass --knowledge" in result.stderr


def test_bad_setting_names_the_setting() -> None:
    result = run("ask", "CCGs", env={"MIN_RELEVANCE": "lots"})
    assert result.returncode == 2 and "MIN_RELEVANCE" in result.stderr


def test_chat_answers_and_pages_through_results() -> None:
    # 26 passages: ten pages of three always reach the end of the results
    questions = "What did the NAO say about CCGs and NHS England?\nmore\n"
    questions += "How many CCGs overspent in 2017-18?\n" + "more\n" * 10
    result = run("chat", stdin=questions + "\nrecipe for banana bread\nquit\n")  # a new conversation
    assert result.returncode == 0
    assert "? 4. " in result.stdout  # after the prompt, "more" went on from the first three
    assert "75 of 207 CCGs" in result.stdout
    assert "No more results for that question." in result.stdout
    assert "Nothing in the knowledge base answers that." in result.stdout


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("policy-bot")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ask" in result.stdout
    assert result.stdout.startswith("usage: policy-bot [-h] [--version]")  # the name it was run by
    assert run("--help").stdout.startswith("usage: python -m bot [-h] [--version]")


def test_ask_dash_json_answers_each_line_of_stdin_as_one_json_line() -> None:
    too_long = "x" * 3000
    lines = ["How many CCGs overspent in 2017-18?", "", "recipe for banana bread", too_long, "What are ICSs?"]
    result = run("ask", "-", "--json", "--top", "1", stdin="\n".join(lines) + "\n")

    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["question"] for a in answers] == [q for q in lines if q]  # in order, the blank line skipped
    flagship, off_topic, refused, last = answers
    assert "75 of 207 CCGs" in flagship["results"][0]["text"]
    assert off_topic["results"] == []
    assert "3,000 characters" in refused["error"] and "results" not in refused
    assert last["results"]  # the bad line did not stop the rest
    assert all(a["took_ms"] >= 0 for a in (flagship, off_topic, last))


def test_ask_dash_answers_each_question_before_the_next_is_sent() -> None:
    # A program piping questions in gets each answer as soon as it is ready, not when input ends.
    environment = {k: v for k, v in os.environ.items() if k not in UNSET}
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "ask", "-", "--json"],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        answers = []
        for question in ("How many CCGs overspent in 2017-18?", "recipe for banana bread"):
            process.stdin.write(question + "\n")
            process.stdin.flush()
            answers.append(json.loads(process.stdout.readline()))  # would block forever if answers waited for EOF
        process.stdin.close()
        assert process.wait(timeout=30) == 0
    assert [a["question"] for a in answers] == ["How many CCGs overspent in 2017-18?", "recipe for banana bread"]


@pytest.mark.parametrize(
    ("yaml_text", "complaint"),
    [
        ("questions:\n  - q: one\n   expect: [unclosed\n", "is not valid YAML (line 3, column"),
        ("questions: [1, 2]\n", "question 1 has no 'q:'"),
        ("questions:\n  - expect: something\n", "question 1 has no 'q:'"),
        ("questions:\n  - {q: one, expect: [a, b]}\n", "question 1: 'expect:', 'source:' and 'kind:' are text"),
        ("just text\n", "a question set is YAML with a 'questions:' list"),
    ],
)
def test_evaluate_on_a_malformed_question_set_says_what_is_wrong_in_one_line(
    tmp_path: Path, yaml_text: str, complaint: str
) -> None:
    questions = tmp_path / "broken.yaml"
    questions.write_text(yaml_text, encoding="utf-8")
    result = run("evaluate", str(questions))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {questions}: ") and complaint in line
    assert result.stdout == ""


@pytest.mark.parametrize("port", ["99999999999", "65536", "-5"])
def test_serve_on_an_impossible_port_is_a_usage_error(port: str) -> None:
    result = run("serve", "--http", "--port", port)
    assert result.returncode == 2
    assert "error: argument --port: a port is a number from 0 to 65535" in result.stderr.splitlines()[-1]


def test_chat_reads_a_follow_up_with_the_question_before_and_says_what_it_searched() -> None:
    stdin = "How many CCGs overspent in 2017-18?\nthanks\nand the year before?\n\nand in 2015-16?\nquit\n"
    result = run("chat", stdin=stdin)
    assert result.returncode == 0
    # one "Searching for" line: the follow-up's; the thanks gets no answer; after the empty line a new conversation
    assert result.stdout.count("Searching for:") == 1
    assert "Searching for: How many CCGs overspent in 2016-17?" in result.stdout
    assert "57 CCGs in 2016-17" in result.stdout
    assert "New conversation." in result.stdout
    assert result.stdout.count("1. ") == 3  # three answers: the thanks got none


def test_chat_json_reads_standard_input_as_one_conversation() -> None:
    stdin = (
        "How many CCGs overspent in 2017-18?\nand the year before?\nthanks\n"
        "and how many CCGs were rated inadequate?\n\nand in 2016-17?\n"
    )
    result = run("chat", "--json", stdin=stdin)
    assert result.returncode == 0
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(a["question"], a["resolved"]) for a in answers] == [
        ("How many CCGs overspent in 2017-18?", "How many CCGs overspent in 2017-18?"),
        ("and the year before?", "How many CCGs overspent in 2016-17?"),
        ("thanks", None),
        ("and how many CCGs were rated inadequate?", "and how many CCGs were rated inadequate?"),
        ("and in 2016-17?", "and in 2016-17?"),  # an empty line started a new conversation
    ]
    assert "57 CCGs in 2016-17" in answers[1]["results"][0]["text"]
    assert answers[2]["results"] == []
    assert "‘inadequate’" in answers[3]["results"][0]["text"]
    assert set(answers[0]) == {"question", "resolved", "results", "searched", "searched_for", "took_ms"}


def test_evaluate_reports_the_tuning_and_held_out_sets_side_by_side_without_the_held_out_misses() -> None:
    """`python -m bot evaluate`: every measure for both sets, as bot/evaluate.py computes them; which
    held-out questions missed is never shown (it would invite tuning on them), the tuning set's are."""
    from bot.engine import build_index
    from bot.evaluate import evaluate, parse_set

    result = run("evaluate")
    assert result.returncode == 0, result.stderr
    cells = [re.split("[│┃]", line)[1:-1] for line in result.stdout.splitlines() if re.match("[│┃]", line)]
    rows = {row[0].strip(): [c.strip() for c in row[1:]] for row in cells}
    assert rows["measure"] == ["questions.yaml", "questions_blind.yaml (held out)"]
    index = build_index(ROOT / "knowledge", DEFAULT_MIN_RELEVANCE)
    for column, name in enumerate(("questions.yaml", "questions_blind.yaml")):
        qs = parse_set((ROOT / "tests" / name).read_text(encoding="utf-8"))
        report = evaluate(index, qs.questions, conversations=qs.conversations)
        on = len(report.on_topic)
        assert rows["hit@1"][column] == f"{report.hit_at(1):.3f} ({sum(o.rank == 1 for o in report.on_topic)}/{on})"
        assert rows["false abstentions"][column].endswith(f"({len(report.false_abstentions)}/{on})")
        answered, off = len(report.off_topic_answered), len(report.off_topic)
        assert rows["off-topic abstained"][column].endswith(f"({off - answered}/{off})")
        right = sum(f.right_at(3) for f in report.follow_ups)
        assert rows["follow-ups right (top 3)"][column].endswith(f"({right}/{len(report.follow_ups)})")
        assert {"hit@3", "pinpoint", "follow-ups right (rank 1)"} <= set(rows)
    assert rows["of them in domain words"][1].endswith("/15)")  # the held-out set marks its kinds
    blind = parse_set((ROOT / "tests" / "questions_blind.yaml").read_text(encoding="utf-8"))
    assert not [q.q for q in blind.questions if q.q in result.stdout]
    assert "questions_blind.yaml is held out" in result.stdout
    assert "questions.yaml: not first, or answered when off-topic:" in result.stdout


# --- a newcomer's first hour (issue 16) ---------------------------------------------------------------------

FOLLOW_UP_CHAT = "How many CCGs overspent in 2017-18?\nand the year before?\nthanks\n\nrecipe for banana bread\nquit\n"


def logged(db: Path, *options: str, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    """The query log's rows, newest first, as `queries --db PATH --json` prints them."""
    result = run("queries", "--db", str(db), "--json", *options, env=env)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_chat_logs_each_question_for_review_as_the_local_user(tmp_path: Path) -> None:
    db = tmp_path / "queries.db"
    result = run("chat", stdin=FOLLOW_UP_CHAT)
    assert result.returncode == 0, result.stderr
    assert f"Questions are logged to {db}." in result.stdout
    rows = logged(db)
    user = getpass.getuser()
    assert [(r["surface"], r["user"], r["question"], r["typed"]) for r in reversed(rows)] == [
        ("terminal", user, "How many CCGs overspent in 2017-18?", None),
        ("terminal", user, "How many CCGs overspent in 2016-17?", "and the year before?"),  # the thanks: no row
        ("terminal", user, "recipe for banana bread", None),  # an empty line started a new conversation
    ]
    newest, _, oldest = rows
    assert oldest["results"] and oldest["results"][0]["passage"] == "000-eb80a55c94ec531c-2"  # type: ignore[index]
    assert newest["abstained"] and newest["unknown_words"] == ["recipe", "banana", "bread"]
    assert [r["question"] for r in logged(db, "--user", user, "--unanswered")] == ["recipe for banana bread"]


def test_chat_stores_the_user_as_a_keyed_hash_as_it_stores_slack_ids(tmp_path: Path) -> None:
    key = {"HASH_USER_IDS": "true", "USER_ID_HASH_KEY": "k" * 40}
    assert run("chat", stdin="How many CCGs overspent in 2017-18?\n", env=key).returncode == 0
    [row] = logged(tmp_path / "queries.db", env=key)
    assert row["user"] == pseudonym(getpass.getuser(), ("k" * 40).encode())
    assert [r["id"] for r in logged(tmp_path / "queries.db", "--user", getpass.getuser(), env=key)] == [row["id"]]


def test_ask_and_chat_json_log_nothing(tmp_path: Path) -> None:
    """Scripts' questions (one-off `ask`, piped `chat --json`) stay out of the log where people's are reviewed."""
    assert run("ask", "How many CCGs overspent in 2017-18?").returncode == 0
    assert run("chat", "--json", stdin="How many CCGs overspent in 2017-18?\n").returncode == 0
    assert not (tmp_path / "queries.db").exists()


def test_chat_goes_on_when_the_log_is_locked_and_says_so_once(tmp_path: Path) -> None:
    db = tmp_path / "queries.db"
    assert run("chat", stdin="What are ICSs?\n").returncode == 0  # the log exists, at the latest schema
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock throughout
        started = time.monotonic()
        result = run("chat", stdin="How many CCGs overspent in 2017-18?\nmore\nWho is Amyas Morse?\nquit\n")
        seconds = time.monotonic() - started
        other.execute("ROLLBACK")
    assert result.returncode == 0
    assert "75 of 207 CCGs" in result.stdout and "Amyas Morse" in result.stdout  # every answer came
    [note] = [line for line in result.stderr.splitlines() if line.strip()]
    assert note.startswith("Query log: ") and f"query log {db}" in note and "database is locked" in note
    assert note.endswith("The chat goes on.")
    assert seconds < 15  # at most the query log's second to write at the end, beyond the answers
    assert len(logged(db)) == 1  # the first chat's question; the locked ones could not be kept


def test_chat_goes_on_when_the_log_is_locked_midway_and_says_so_once(tmp_path: Path) -> None:
    db = tmp_path / "queries.db"
    environment = {k: v for k, v in os.environ.items() if k not in UNSET} | {"COLUMNS": "200"}
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "chat"],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as chat:
        assert chat.stdin is not None and chat.stdout is not None and chat.stderr is not None

        def ask(question: str) -> None:
            assert chat.stdin is not None
            chat.stdin.write(question + "\n")
            chat.stdin.flush()

        ask("How many CCGs overspent in 2017-18?")
        deadline = time.monotonic() + 30
        while not (db.is_file() and len(logged(db)) == 1):  # written while the log was free
            assert time.monotonic() < deadline, "the first question was never logged"
            time.sleep(0.1)
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")  # now another program holds the write lock
            for question in ("Who is Amyas Morse?", "What are ICSs?", "quit"):
                ask(question)
                time.sleep(1.5)  # more than the log's busy timeout: its write fails meanwhile
            out, err = chat.communicate(timeout=30)
            other.execute("ROLLBACK")
    assert chat.returncode == 0
    assert (
        "75 of 207 CCGs" in out and "Amyas Morse" in out and out.count("\n? ") == 4
    )  # a prompt for each line: the chat went on
    [note] = [line for line in err.splitlines() if line.strip()]
    assert note == (
        f"Query log: query log {db} cannot be written (database is locked): keeping rows in memory and retrying. "
        "The chat goes on."
    )
    assert len(logged(db)) == 1


def test_chat_goes_on_when_the_log_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    result = run(
        "chat",
        stdin="How many CCGs overspent in 2017-18?\nWho is Amyas Morse?\n",
        env={"QUERY_LOG_PATH": str(tmp_path / "file" / "queries.db")},
    )
    assert result.returncode == 0
    assert "75 of 207 CCGs" in result.stdout and "Amyas Morse" in result.stdout
    [note] = [line for line in result.stderr.splitlines() if line.strip()]
    assert note.startswith("Query log: ") and "file" in note and note.endswith("The chat goes on.")


def test_queries_on_a_missing_log_says_what_creates_it(tmp_path: Path) -> None:
    result = run("queries", "--db", str(tmp_path / "nowhere.db"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: there is no query log at {tmp_path / 'nowhere.db'}: the bot creates it when it starts, in Slack "
        "or in the terminal (python -m bot start, serve or chat); to review a log elsewhere, pass --db or set "
        "QUERY_LOG_PATH"
    )


def test_queries_on_another_database_says_what_it_has(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        db.execute("CREATE TABLE queries (id TEXT)")
        db.commit()
    result = run("queries", "--db", str(other))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {other} is not a query log (it has 2 tables: notes, queries; it lacks the log's admin_commands): "
        "check QUERY_LOG_PATH"
    )
    sqlite3.connect(tmp_path / "empty.db").close()
    assert "is not a query log (it has no tables)" in run("queries", "--db", str(tmp_path / "empty.db")).stderr


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, ["SLACK_APP_TOKEN and SLACK_SIGNING_SECRET are both empty"]),
        ({"SLACK_APP_TOKEN": "xapp-1"}, ["SLACK_BOT_TOKEN is empty"]),
        ({"SLACK_SIGNING_SECRET": "s"}, ["SLACK_BOT_TOKEN is empty"]),
    ],
)
def test_start_with_part_of_the_slack_settings_names_what_is_missing(
    tmp_path: Path, settings: dict[str, str], missing: list[str]
) -> None:
    result = run("start", stdin="How many CCGs overspent in 2017-18?\n", env=settings, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""  # no chat
    assert all(f"error: {m}" in result.stderr or m in result.stderr for m in missing)
    assert "Basic Information" in result.stderr or "OAuth & Permissions" in result.stderr  # where to find it
    assert "start opens the terminal chat" in result.stderr
    assert not (tmp_path / "queries.db").exists()


def test_start_without_slack_settings_chats_and_logs(tmp_path: Path) -> None:
    result = run(
        "start", "--knowledge", str(ROOT / "knowledge"), stdin="How many CCGs overspent in 2017-18?\n", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "chatting in the terminal" in result.stdout and "75 of 207 CCGs" in result.stdout
    assert [r["surface"] for r in logged(tmp_path / "queries.db")] == ["terminal"]


def test_the_saved_index_goes_to_the_cache_folder_not_the_working_folder(tmp_path: Path, cache: Path) -> None:
    knowledge = tmp_path / "kb"
    shutil.copytree(ROOT / "knowledge", knowledge)
    first = run("--knowledge", str(knowledge), "index", cwd=tmp_path)
    second = run("index", "--knowledge", str(knowledge), cwd=tmp_path)  # --knowledge after the command too
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    [saved] = (cache / "policy-bot").glob("kb-*.index")
    assert f"saved index: {saved} (INDEX_PATH to move it)" in first.stdout
    assert ", indexed in " in first.stdout and ", loaded in " in second.stdout  # the second reused it
    assert run("ask", "--knowledge", str(knowledge), "What are ICSs?", cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb"]  # nothing written where they ran
    moved = run("index", "--knowledge", str(knowledge), env={"INDEX_PATH": str(tmp_path / "my.index")}, cwd=tmp_path)
    assert f"saved index: {tmp_path / 'my.index'}" in moved.stdout and (tmp_path / "my.index").is_file()
    off = run("index", "--knowledge", str(knowledge), env={"SAVE_INDEX": "false"}, cwd=tmp_path)
    assert "the index is not saved (SAVE_INDEX=false)" in off.stdout


def test_knowledge_after_the_command_is_the_folder_used(tmp_path: Path) -> None:
    result = run("ask", "--knowledge", str(tmp_path / "missing"), "CCGs")
    assert result.returncode == 2 and f"knowledge folder {tmp_path / 'missing'} does not exist" in result.stderr


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"python -m bot {importlib.metadata.version('commissioning-policy-bot')}"


def test_more_results_footer_says_only_what_applies_where() -> None:
    question = "What did the NAO say about CCGs and NHS England?"
    default = run("ask", question)
    most = run("ask", question, "--top", "10")
    chat = run("chat", stdin=question + "\n")
    assert "More results: ask again with --top 6." in default.stdout and "'more'" not in default.stdout
    assert "More results" not in most.stdout  # --top is already the most it takes
    assert "More results: type 'more'." in chat.stdout and "--top" not in chat.stdout


def test_piped_output_is_not_wrapped_or_padded() -> None:
    result = run("ask", "How many CCGs overspent in 2017-18?", "--top", "1", env={"COLUMNS": ""})
    lines = result.stdout.splitlines()
    assert lines[0] == (  # 105 characters: one line, as a pipe receives it, never wrapped at 80
        "1. In 2017-18, 75 of 207 CCGs (36%) spent more than planned with a total overspend of £213m across all CCGs."
    )
    assert not [line for line in lines if line != line.rstrip()]


def test_one_article_is_one_article(tmp_path: Path) -> None:
    shutil.copy(ROOT / "knowledge" / "000_eb80a55c94ec531c.txt", tmp_path)
    index = run("index", "--knowledge", str(tmp_path))
    chat = run("chat", "--knowledge", str(tmp_path), stdin="recipe for banana bread\n")
    assert re.search(r"^1 article, \d+ passages, indexed in", index.stdout, re.M)
    assert chat.stdout.startswith("Ask about 1 article (") and "The knowledge base has 1 article:" in chat.stdout


def test_summary_and_stats_take_the_same_period(tmp_path: Path) -> None:
    assert run("chat", stdin="What are ICSs?\n").returncode == 0
    db = str(tmp_path / "queries.db")
    default = json.loads(run("queries", "summary", "--db", db, "--json").stdout)
    week = json.loads(run("queries", "summary", "--db", db, "--json", "--since", "7d").stdout)
    now = dt.datetime.now(dt.UTC)
    for data, days in ((default, 30), (week, 7)):
        since = dt.datetime.fromisoformat(data["since"])
        assert abs(since - (now - dt.timedelta(days=days))) < dt.timedelta(minutes=5)
        assert data["questions"] == 1
    assert f"(summary: {Stats.PERIOD_WORDS}, as /ask-admin stats)" in " ".join(run("queries", "--help").stdout.split())


# --- progress on a slow build --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def large_knowledge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic knowledge folder that takes a few seconds to index (benchmarks/generate.py)."""
    folder = tmp_path_factory.mktemp("large") / "kb"
    subprocess.run(
        [sys.executable, "benchmarks/generate.py", "--passages", "2500", "--out", str(folder), "--questions", "5"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return folder


def in_terminal(*args: str, env: dict[str, str]) -> str:
    """What `python -m bot ARGS` shows in a terminal (a pseudo-terminal for its output and errors)."""
    main, secondary = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in UNSET} | env | {"COLUMNS": "200"}
    with subprocess.Popen(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=environment, stdout=secondary, stderr=secondary
    ) as process:
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the process has ended and closed its side
                break
            if not chunk:
                break
            shown += chunk
        assert process.wait(timeout=120) == 0
    os.close(main)
    return shown.decode("utf-8", errors="replace")


def test_a_slow_build_shows_its_stages_in_a_terminal_only(large_knowledge: Path, tmp_path: Path) -> None:
    env = {"INDEX_PATH": str(tmp_path / "large.index")}
    shown = in_terminal("ask", "--knowledge", str(large_knowledge), "council policy", env=env)
    for stage in (f"reading {large_knowledge}", "analysing 2,500 passages", f"saving the index to {tmp_path}"):
        assert stage in shown
    (tmp_path / "large.index").unlink()
    piped = run("ask", "--knowledge", str(large_knowledge), "council policy", env=env)
    assert piped.returncode == 0 and "analysing" not in piped.stderr + piped.stdout
    (tmp_path / "large.index").unlink()
    quiet = in_terminal("ask", "--knowledge", str(large_knowledge), "council policy", "--json", env=env)
    assert "analysing" not in quiet and json.loads(quiet)["question"] == "council policy"
    fast = in_terminal("ask", "--knowledge", str(large_knowledge), "council policy", env=env)  # a saved index
    assert "reading" not in fast and "analysing" not in fast
