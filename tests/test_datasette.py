"""deploy/datasette.yaml: the canned queries an admin opens in Datasette, run on a real query log.

The log is written through the real QueryLog with questions answered by the real engine
(tests/reviewlog.py). Each canned query runs twice: in SQLite on a read-only connection, binding its
named parameters as Datasette does (an empty field is ''), and in Datasette itself, through its
Python API, which must serve the same rows under the metadata's database name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from datasette.app import Datasette

from bot import review
from bot.models import QueryRecord
from bot.search import Index
from tests.conftest import ROOT
from tests.reviewlog import COUNCILS, ERROR, FAILED, MARKUP, OLD, SINCE, standard_rows, write_log

METADATA_FILE = ROOT / "deploy" / "datasette.yaml"
METADATA: dict[str, Any] = yaml.safe_load(METADATA_FILE.read_text(encoding="utf-8"))
CANNED: dict[str, dict[str, str]] = METADATA["databases"]["queries"]["queries"]
PARAMETER = re.compile(r"(?<!:):(\w+)")  # a named parameter, as Datasette finds them
Rows = list[dict[str, Any]]


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
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(sql, params)]


def newest_first(rows: list[QueryRecord], since: str) -> list[QueryRecord]:
    start = dt.datetime.fromisoformat(since).replace(tzinfo=dt.UTC) if since else dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted((r for r in rows if r.time >= start), key=lambda r: r.time, reverse=True)


def test_the_metadata_has_the_canned_queries_with_titles_and_descriptions() -> None:
    assert set(CANNED) == {"latest", "unanswered", "down_voted", "gaps", "per_day"}
    for name, query in CANNED.items():
        assert query["title"] and query["description"], name
        assert not query.get("write"), f"{name} must be read-only"
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
    assert [json.loads(r["unknown_words"]) for r in result] == [list(r.unknown_words) for r in expected]


async def test_down_voted_lists_the_answers_voted_down_with_their_passages(
    logged: tuple[Path, list[QueryRecord]],
) -> None:
    path, rows = logged
    [result] = run_canned(path, "down_voted", "")
    [expected] = [r for r in rows if r.feedback == "down"]
    assert result["question"] == "overspent parking charges" == expected.question
    assert result["passages"] == " ".join(ref.passage for ref in expected.results)
    assert json.loads(result["unknown_words"]) == ["parking", "charges"]


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


async def test_datasette_serves_every_canned_query_from_the_metadata(logged: tuple[Path, list[QueryRecord]]) -> None:
    path, _ = logged
    datasette = Datasette(files=[str(path)], metadata=METADATA)
    try:
        databases = (await datasette.client.get("/-/databases.json")).json()
        assert [db["name"] for db in databases] == ["queries"]  # the file's stem, the metadata's key
        for name, query in CANNED.items():
            for since in ("", SINCE):
                response = await datasette.client.get(
                    f"/queries/{name}.json", params={"since": since, "_shape": "array"}
                )
                assert response.status_code == 200, (name, response.text)
                assert response.json() == run_canned(path, name, since), name
            # An admin who leaves the field empty gets the whole log, as with since=''.
            unfilled = await datasette.client.get(f"/queries/{name}.json?_shape=array")
            assert unfilled.json() == run_canned(path, name, ""), name
            page = await datasette.client.get(f"/queries/{name}")
            assert page.status_code == 200 and query["title"] in page.text, name
        index = await datasette.client.get("/queries")
        assert all(query["title"] in index.text for query in CANNED.values())
    finally:
        datasette.executor.shutdown(wait=True)
