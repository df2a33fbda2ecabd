"""The command line, run as a user runs it: a real process, real knowledge folder."""

from __future__ import annotations

import io
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from bot import console as view
from bot.display import lay_out
from bot.evaluate import parse_questions
from bot.search import DEFAULT_MIN_RELEVANCE, Index
from tests.conftest import ROOT


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"KNOWLEDGE_DIR", "RESULTS", "MIN_RELEVANCE"}}
    environment.update(env or {}, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
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
    environment = {k: v for k, v in os.environ.items() if k != "KNOWLEDGE_DIR"}
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
