"""deploy/datasette.yaml: the canned queries an admin opens in Datasette, run on a real query log.

The log is written through the real QueryLog with questions answered by the real engine
(tests/reviewlog.py). Each canned query runs three ways: in SQLite on a read-only connection with the
plugin's functions (deploy/datasette_plugins/policy_bot.py), binding its named parameters as Datasette
does (an empty field is ''); in Datasette itself, through its Python API, which must serve the same rows
under the metadata's database name, with the SQL hidden; and in a real Chromium at 1280×900 against
`datasette serve` on a local port, which must show the rows at the top of the page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import importlib.util
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from datasette.app import Datasette

from bot import review
from bot.corpus import Corpus
from bot.models import QueryRecord, ResultRef
from bot.search import Index
from tests.browser import CHROMIUM, Browser
from tests.conftest import KNOWLEDGE, ROOT
from tests.reviewlog import COUNCILS, ERROR, FAILED, MARKUP, OLD, SINCE, record, standard_rows, write_log

METADATA_FILE = ROOT / "deploy" / "datasette.yaml"
PLUGINS = ROOT / "deploy" / "datasette_plugins"
METADATA: dict[str, Any] = yaml.safe_load(METADATA_FILE.read_text(encoding="utf-8"))
CANNED: dict[str, dict[str, str]] = METADATA["databases"]["queries"]["queries"]
PARAMETER = re.compile(r"(?<!:):(\w+)")  # a named parameter, as Datasette finds them
Rows = list[dict[str, Any]]
# The column that names each canned query's rows, as a reviewer reads them.
FIRST = {"latest": "question", "unanswered": "question", "down_voted": "question", "gaps": "word", "per_day": "day_utc"}
WIDTH, HEIGHT = 1280, 900  # a laptop's browser window
NOW = dt.datetime.now(dt.UTC)
# Every form `python -m bot queries --since` takes (bot/review.py), as an admin would type them.
SINCE_FORMS = ("", "30m", "24h", "2H", "7d", " 7d ", "2w", SINCE, "2025-03-01T09:00", "2025-03-04T09:00+00:00")


def load_plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("policy_bot", PLUGINS / "policy_bot.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PLUGIN = load_plugin()


@pytest.fixture(autouse=True)
def knowledge(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin reads the knowledge folder from the settings, as the bot does."""
    monkeypatch.setenv("KNOWLEDGE_DIR", str(KNOWLEDGE))


@pytest.fixture
async def logged(tmp_path: Path, index: Index) -> tuple[Path, list[QueryRecord]]:
    rows = standard_rows(index)
    # Named queries.db, as the README says: Datasette names a database after its file.
    return await write_log(tmp_path / "queries.db", rows), rows


def run_canned(path: Path, name: str, since: str) -> Rows:
    """Canned query `name` on a read-only connection (any write would fail), parameters bound by name."""
    sql = CANNED[name]["sql"]
    params = {param: since for param in PARAMETER.findall(sql)}
    assert set(params) <= {"since"}, f"{name}: unexpected parameters {set(params)}"
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        PLUGIN.add_functions(db)
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(sql, params)]


def newest_first(rows: list[QueryRecord], since: str) -> list[QueryRecord]:
    """`rows` from `since` on, as the command line reads `--since`, newest first."""
    start = review.parse_since(since, dt.datetime.now(dt.UTC)) if since.strip() else None
    return sorted((r for r in rows if not start or r.time >= start), key=lambda r: r.time, reverse=True)


def words(text: str | None) -> list[str]:
    return text.split(", ") if text else []


def test_the_metadata_has_the_canned_queries_with_titles_and_descriptions() -> None:
    assert set(CANNED) == set(FIRST)
    for name, query in CANNED.items():
        assert query["title"] and query["description"], name
        assert "7d, 24h, 30m, 2w, or a date such as 2025-03-01" in query["description"], name
        assert not query.get("write"), f"{name} must be read-only"
        assert query["hide_sql"] is True, f"{name}: its SQL would push the rows below the fold"
        assert query["sql"].lstrip().lower().startswith("select"), name


@pytest.mark.parametrize("since", ["", SINCE])
async def test_latest_lists_the_questions_newest_first_with_what_was_answered(
    logged: tuple[Path, list[QueryRecord]], since: str
) -> None:
    path, rows = logged
    result = run_canned(path, "latest", since)
    expected = newest_first(rows, since)
    assert [r["id"] for r in result] == [r.id for r in expected]
    assert len(result) == (11 if not since else 10)
    by_question = {r["question"]: r for r in result}
    assert by_question[FAILED]["answered"] == f"error: {ERROR}"
    assert by_question[COUNCILS]["answered"] == "nothing found"
    first = by_question["How many CCGs overspent in 2017-18?"]
    assert (first["answered"], first["feedback"], first["time_utc"]) == (
        "000-eb80a55c94ec531c-2",
        "👍",
        "2025-03-03 09:00:00",
    )
    assert by_question["overspent parking charges"]["feedback"] == "👎"
    assert all(r["answered"] == review.answered(q) for r, q in zip(result, expected, strict=True))


@pytest.mark.parametrize("since", ["", SINCE])
async def test_unanswered_lists_only_abstentions_with_their_unknown_words(
    logged: tuple[Path, list[QueryRecord]], since: str
) -> None:
    path, rows = logged
    result = run_canned(path, "unanswered", since)
    expected = [r for r in newest_first(rows, since) if r.abstained]
    assert [r["question"] for r in result] == [r.question for r in expected]
    assert [r["question"] for r in result][:2] == [COUNCILS, MARKUP]
    assert (OLD in [r["question"] for r in result]) == (not since)
    # Read as words, not JSON: "nurses, park, hospital, parking, permits".
    assert [words(r["words_no_article_had"]) for r in result] == [list(r.unknown_words) for r in expected]
    assert "café" in words(result[1]["words_no_article_had"])


async def test_down_voted_shows_each_passage_of_the_answer_with_its_article_and_text(
    logged: tuple[Path, list[QueryRecord]], corpus: Corpus
) -> None:
    path, rows = logged
    result = run_canned(path, "down_voted", "")
    [expected] = [r for r in rows if r.feedback == "down"]
    passages = {p.id: p for p in corpus.passages}
    assert [r["passage"] for r in result] == [ref.passage for ref in expected.results]
    assert len(result) >= 2  # the answer showed more than one passage: one row each, in the order shown
    for shown, (row, ref) in enumerate(zip(result, expected.results, strict=True), start=1):
        passage = passages[ref.passage]
        assert (row["question"], row["shown"], row["user"]) == (expected.question, shown, "U03")
        assert row["article"] == passage.article.citation()
        assert row["text"] == passage.text  # what the asker read, whole
        # Voted when the asker clicked 👎 (just now, in this test), not when the question was asked.
        voted = dt.datetime.fromisoformat(row["voted_utc"]).replace(tzinfo=dt.UTC)
        assert NOW - dt.timedelta(minutes=1) < voted + dt.timedelta(seconds=1) and voted <= dt.datetime.now(dt.UTC)


async def test_down_voted_says_what_is_gone_and_what_found_nothing(tmp_path: Path, index: Index) -> None:
    """A passage the knowledge folder no longer has, and an answer that found nothing, still get their row."""
    gone = record(index, "overspent parking charges", NOW, user="U01", channel="C01", feedback="down")
    gone = gone.model_copy(update={"results": (ResultRef(passage="999-gone-1", score=1.0, relevance=1.0),)})
    nothing = record(index, COUNCILS, NOW - dt.timedelta(hours=1), user="U02", channel="C01", feedback="down")
    assert nothing.abstained and not nothing.results
    path = await write_log(tmp_path / "queries.db", [gone, nothing])
    result = run_canned(path, "down_voted", "7d")
    assert [(r["question"], r["shown"], r["passage"], r["article"], r["text"]) for r in result] == [
        ("overspent parking charges", 1, "999-gone-1", None, None),
        (COUNCILS, "nothing found", None, None, None),
    ]


@pytest.mark.parametrize("since", ["", SINCE])
async def test_gaps_rank_the_missing_words_of_unanswered_and_down_voted_questions(
    logged: tuple[Path, list[QueryRecord]], since: str
) -> None:
    path, rows = logged
    result = run_canned(path, "gaps", since)
    assert result[0] == {
        "word": "parking",
        "questions": 4,  # three unanswered and one down-voted; "overspent parking" was answered, no vote
        "example": COUNCILS,  # the latest
        "last_asked_utc": "2025-03-05 10:30:00",
    }
    assert [r["word"] for r in result][1:3] == ["hospital", "nurses"]
    assert ("banana" in [r["word"] for r in result]) == (not since)
    # The same as the command line's gaps, except that SQL cannot know the words the knowledge base
    # has gained since (like "councils"), which `queries summary` drops.
    python = review.gaps(newest_first(rows, since), lambda word: True, top=1000)
    assert [(r["word"], r["questions"], r["example"]) for r in result] == [
        (g.word, g.questions, g.example) for g in python
    ]
    assert "councils" in [r["word"] for r in result]


async def test_per_day_counts_questions_answers_and_votes(logged: tuple[Path, list[QueryRecord]]) -> None:
    path, _ = logged
    assert run_canned(path, "per_day", "") == [
        {"day_utc": "2025-03-05", "questions": 4, "unanswered": 2, "errors": 1, "up": 0, "down": 0},
        {"day_utc": "2025-03-04", "questions": 3, "unanswered": 0, "errors": 0, "up": 0, "down": 1},
        {"day_utc": "2025-03-03", "questions": 3, "unanswered": 2, "errors": 0, "up": 1, "down": 0},
        {"day_utc": "2025-02-19", "questions": 1, "unanswered": 1, "errors": 0, "up": 0, "down": 0},
    ]
    assert [r["day_utc"] for r in run_canned(path, "per_day", SINCE)] == ["2025-03-05", "2025-03-04", "2025-03-03"]


@pytest.fixture
async def recent(tmp_path: Path, index: Index) -> tuple[Path, list[QueryRecord]]:
    """A log with questions from minutes to weeks ago, for the since field's durations."""
    ago = (
        dt.timedelta(minutes=10),
        dt.timedelta(hours=5),
        dt.timedelta(days=3),
        dt.timedelta(days=10),
        dt.timedelta(days=20),
    )
    questions = ("How many CCGs overspent in 2017-18?", COUNCILS)
    rows = [
        record(index, questions[n % 2], NOW - when, user="U01", channel="C01", feedback="down" if n % 2 else None)
        for n, when in enumerate(ago)
    ]
    rows += standard_rows(index)  # and the dated ones
    return await write_log(tmp_path / "queries.db", rows), rows


@pytest.mark.parametrize("since", SINCE_FORMS)
async def test_since_takes_every_form_the_command_line_takes(
    recent: tuple[Path, list[QueryRecord]], since: str
) -> None:
    path, rows = recent
    expected = newest_first(rows, since)  # as `python -m bot queries --since` reads it
    assert [r["id"] for r in run_canned(path, "latest", since)] == [r.id for r in expected]
    assert 0 < len(expected) <= len(rows)  # every form finds something here: none is silently empty
    unanswered = [r["id"] for r in run_canned(path, "unanswered", since)]
    assert unanswered == [r.id for r in expected if r.abstained]
    assert sum(day["questions"] for day in run_canned(path, "per_day", since)) == len(expected)
    down = [(r["question"], r["passage"]) for r in run_canned(path, "down_voted", since)]
    voted = [r for r in expected if r.feedback == "down"]
    assert down == [(r.question, p) for r in voted for p in ([ref.passage for ref in r.results] or [None])]


def test_since_names_the_recent_rows_by_duration() -> None:
    """7d back from now is 7 days back from now, whatever day the test runs (not a date that matched nothing)."""
    cutoff = dt.datetime.fromisoformat(PLUGIN.since_utc("7d"))
    assert abs(cutoff - (dt.datetime.now(dt.UTC) - dt.timedelta(days=7))) < dt.timedelta(seconds=5)
    assert PLUGIN.since_utc("") == PLUGIN.since_utc("  ") == PLUGIN.since_utc(None) == ""


# SQLite reports the parser's ValueError (the command line's own wording) to sys.unraisablehook, which
# Datasette's console prints and pytest turns into this warning; the page shows the error in red.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("since", ["last week", "7 days ago", "01/03/2025", "7y"])
async def test_a_since_the_command_line_refuses_is_an_error_not_an_empty_page(
    recent: tuple[Path, list[QueryRecord]], since: str
) -> None:
    path, _ = recent
    with pytest.raises(ValueError, match="neither a duration nor a date"):
        review.parse_since(since, NOW)  # the command line refuses it too
    with pytest.raises(sqlite3.OperationalError, match="user-defined function raised exception"):
        run_canned(path, "latest", since)
    datasette = Datasette(files=[str(path)], metadata=METADATA, plugins_dir=str(PLUGINS))
    try:
        response = await datasette.client.get("/queries/latest.json", params={"since": since, "_shape": "array"})
        assert response.status_code == 400, response.text
        page = await datasette.client.get("/queries/latest", params={"since": since})
        assert page.status_code == 400 and "message-error" in page.text  # shown, under what the field takes
        assert html.escape("7d, 24h, 30m, 2w, or a date such as 2025-03-01") in page.text
    finally:
        datasette.executor.shutdown(wait=True)


async def test_datasette_serves_every_canned_query_from_the_metadata(logged: tuple[Path, list[QueryRecord]]) -> None:
    path, _ = logged
    datasette = Datasette(files=[str(path)], metadata=METADATA, plugins_dir=str(PLUGINS))
    try:
        databases = (await datasette.client.get("/-/databases.json")).json()
        assert [db["name"] for db in databases] == ["queries"]  # the file's stem, the metadata's key
        for name, query in CANNED.items():
            for since in ("", SINCE, "7d"):
                response = await datasette.client.get(
                    f"/queries/{name}.json", params={"since": since, "_shape": "array"}
                )
                assert response.status_code == 200, (name, response.text)
                assert response.json() == run_canned(path, name, since), name
            # An admin who leaves the field empty gets the whole log, as with since=''.
            unfilled = await datasette.client.get(f"/queries/{name}.json?_shape=array")
            everything = run_canned(path, name, "")
            assert unfilled.json() == everything and everything, name
            page = await datasette.client.get(f"/queries/{name}")
            assert page.status_code == 200 and query["title"] in page.text, name
            # The rows, not the SQL: neither the editor nor the SQL in the page's body (Datasette puts it in
            # the window's title), only a link to show it.
            body = page.text.split("<body", 1)[1]
            assert "sql-editor" not in body.split("<script")[0] and "from queries" not in body, name
            assert ">show</a>" in body, name
            assert html.escape(str(everything[0][FIRST[name]])) in body, name
            shown = (await datasette.client.get(f"/queries/{name}?_show_sql=1")).text.split("<body", 1)[1]
            assert "from queries" in shown, name
        index = await datasette.client.get("/queries")
        assert all(query["title"] in index.text for query in CANNED.values())
    finally:
        datasette.executor.shutdown(wait=True)


# --- in a browser --------------------------------------------------------------------------------------

ROWS_ON_SCREEN = """(() => {
  const rows = [...document.querySelectorAll('table.rows-and-columns tbody tr')];
  const sql = [...document.querySelectorAll('textarea, #sql-query, .CodeMirror, .cm-editor')];
  return {
    width: window.innerWidth,
    height: window.innerHeight,
    sqlShown: sql.filter(e => e.getClientRects().length > 0).length,
    rows: rows.map(r => ({text: r.innerText, bottom: r.getBoundingClientRect().bottom})),
  };
})()"""


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def datasette_serving(path: Path, output: Path) -> Iterator[str]:
    """`datasette serve` on the log, as the README runs it, on a free local port; its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "datasette", "serve", str(path), "--metadata", str(METADATA_FILE)]
    command += ["--plugins-dir", str(PLUGINS), "--host", "127.0.0.1", "--port", str(port)]
    environment = os.environ | {"KNOWLEDGE_DIR": str(KNOWLEDGE)}
    with (output / "datasette.log").open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=output)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/-/versions.json", timeout=1):
                        break
                except OSError:
                    assert server.poll() is None and time.monotonic() < deadline, (output / "datasette.log").read_text()
                    time.sleep(0.1)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=10)


@pytest.mark.skipif(
    not CHROMIUM,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it): "
    "test_datasette_serves_every_canned_query_from_the_metadata checks the same rows and hidden SQL in the HTML",
)
async def test_each_canned_page_shows_its_rows_in_a_browser_at_1280_by_900(
    logged: tuple[Path, list[QueryRecord]], tmp_path: Path
) -> None:
    path, _ = logged
    with datasette_serving(path, tmp_path) as base:
        async with Browser.open(tmp_path / "chromium-profile") as browser:
            for name in CANNED:
                expected = run_canned(path, name, "")
                screenshot = tmp_path / f"{name}.png"  # kept in the test's tmp folder, to look at
                seen = await browser.look(f"{base}/queries/{name}", ROWS_ON_SCREEN, screenshot, WIDTH, HEIGHT)
                assert (seen["width"], seen["height"]) == (WIDTH, HEIGHT)
                assert screenshot.stat().st_size > 10_000, name
                assert seen["sqlShown"] == 0, f"{name}: the SQL is on the page ({screenshot})"
                assert len(seen["rows"]) == len(expected), name
                first = seen["rows"][0]
                assert str(expected[0][FIRST[name]]) in first["text"], name
                on_screen = [row for row in seen["rows"] if row["bottom"] <= HEIGHT]
                assert on_screen and on_screen[0] == first, f"{name}: the first row is below the fold ({screenshot})"
                print(name, f"{len(on_screen)} of {len(expected)} rows on screen", screenshot)


def test_the_readme_runs_datasette_as_the_browser_test_does() -> None:
    """The README's command loads the metadata and the plugin the pages need (without it, every page fails)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "datasette queries.db --metadata deploy/datasette.yaml --plugins-dir deploy/datasette_plugins\n" in readme
    assert (PLUGINS / "policy_bot.py").is_file()
