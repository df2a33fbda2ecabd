"""PDF, Word and web pages in the knowledge folder, made in each test, read through the real
command line (`python -m bot --knowledge DIR index / ask --json`) and the real Index."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot import store
from bot.corpus import load
from bot.reply import answer_message
from bot.search import Index
from tests import documents
from tests.conftest import ROOT

NAO = dt.datetime(2022, 6, 17, 9, 30, tzinfo=dt.UTC)
PAGE_ONE = [
    "Introducing Integrated Care Systems",
    "",
    "Integrated care systems bring together the NHS and councils to plan and pay for",
    "services. The report found that the pooling of health and care budgets, their integ-",
    "ration, was slow in most of the 42 systems set up in July 2022.",
]
PAGE_TWO = [
    "The workforce gap is the largest risk to recovery plans: vacancies in social care",
    "reached 165,000 in 2021-22, and staff turnover rose in every region of England.",
]
PAGE_THREE = ["Councils face rising demand for adult social care while their spending power fell by 26%."]
HEADER = "National Audit Office | Introducing Integrated Care Systems"
FOOTER = "HC 155 Session 2022-23 | Page {n} of 3"

WEB_PAGE = """<!doctype html>
<html><head>
<title>Councils warn on care funding | Health News Daily</title>
<meta property="og:title" content="Councils warn of a care funding gap of 3.2bn">
<meta name="author" content="Priya Shah">
<meta property="article:published_time" content="2023-02-14T08:00:00Z">
<meta property="og:site_name" content="Health News Daily">
<link rel="canonical" href="https://news.example.org/care-funding-gap">
</head><body>
<header class="site-header"><a href="/">Health News Daily</a></header>
<nav><ul><li><a href="/nhs">Trending: junior doctors strike dates announced</a></li></ul></nav>
<div id="cookie-banner"><p>We use cookies to improve your experience. Accept all cookies?</p></div>
<article>
<h1>Councils warn of a care funding gap of 3.2bn</h1>
<p>The Local Government Association said councils in England face a funding gap of 3.2bn in adult
social care by 2025, and that the gap would force cuts to home care packages.</p>
<h2>What ministers said</h2>
<p>The Department of Health said an extra 7.5bn over two years was the largest investment in adult
social care in the history of the service.</p>
<aside class="most-read"><h3>Most read</h3><ol><li>Hospital parking charges scrapped for nurses</li></ol></aside>
<div class="newsletter-signup"><p>Sign up to our daily bulletin of health policy news.</p></div>
</article>
<section class="comments"><h3>Comments</h3>
<p>Tobyjugs: The ringfenced grant for pothole repairs should be doubled, frankly.</p></section>
<footer><p>Copyright Health News Daily. All rights reserved.</p></footer>
</body></html>"""


def bot(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"KNOWLEDGE_DIR", "MIN_RELEVANCE", "MAX_FILE_MB"}}
    environment.update(env or {}, COLUMNS="250", SAVE_INDEX="false")
    return subprocess.run(
        [sys.executable, "-m", "bot", "--knowledge", str(folder), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def ask(folder: Path, question: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = bot(folder, "ask", question, "--top", "1", "--json", env=env)
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
    assert results, f"no answer to {question!r}"
    return results[0]


def nao_pdf(**extra: Any) -> bytes:
    return documents.pdf(
        [PAGE_ONE, PAGE_TWO, PAGE_THREE],
        title="Introducing Integrated Care Systems",
        author="National Audit Office",
        created=NAO,
        header=HEADER,
        footer=FOOTER,
        **extra,
    )


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A folder holding every format, and a scan, an encrypted PDF and a damaged one."""
    guidance = documents.word(
        [
            ("Title", "Better Care Fund planning requirements"),
            ("Normal", "This guidance sets out how systems plan the Better Care Fund for 2023-25."),
            ("Heading 1", "Hospital discharge"),
            ("Normal", "Local areas must agree a discharge fund plan with their integrated care board by 28 June."),
            ("Heading 1", "Minimum contributions"),
            ("Normal", "The minimum NHS contribution to social care rises by 5.66% in 2023-24."),
        ],
        author="NHS England",
        created=dt.datetime(2023, 4, 4, 12, 0),
        header="OFFICIAL SENSITIVE draft header",
    )
    return documents.write(
        tmp_path / "knowledge",
        {
            "nao-ics.pdf": nao_pdf(),
            "bcf-guidance.docx": guidance,
            "care-gap.html": WEB_PAGE,
            "notes.txt": "Winter pressures\n\nTrusts were asked to open 5,000 extra beds before Christmas 2022.\n",
            "scanned-letter.pdf": documents.pdf([[], []], image_only=(1, 2)),
            "locked.pdf": documents.pdf([["Confidential minutes of the board meeting."]], password="s3cret"),
            "broken.docx": b"PK\x03\x04 this is not really a Word file",
        },
    )


def test_index_prints_each_documents_type_title_date_extent_passages_and_problems(mixed: Path) -> None:
    done = bot(mixed, "index")
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]] for line in _rows(done.stdout)}
    assert rows["nao-ics.pdf"][:4] == ["PDF", "Introducing Integrated Care Systems", "17 Jun 2022", "3 pages"]
    assert rows["bcf-guidance.docx"][:4] == [
        "Word",
        "Better Care Fund planning requirements",
        "4 Apr 2023",
        "2 sections",
    ]
    assert rows["care-gap.html"][:4] == [
        "web page",
        "Councils warn of a care funding gap of 3.2bn",
        "14 Feb 2023",
        "1 section",
    ]
    assert rows["notes.txt"][:4] == ["text", "Winter pressures", "", ""]
    assert all(int(rows[name][4]) >= 1 for name in ("nao-ics.pdf", "bcf-guidance.docx", "care-gap.html"))
    assert "removed 2 running header/footer lines" in rows["nao-ics.pdf"][5]
    assert rows["scanned-letter.pdf"][5] == "no text layer: it needs OCR (a scanned document?); not read"
    assert rows["locked.pdf"][5] == "encrypted (password-protected); not read: save a copy without the password"
    assert rows["broken.docx"][5].startswith("cannot be read as a Word (")
    assert "4 articles" in done.stdout


def _rows(table: str) -> list[str]:
    """The table's rows whose first cell names a file (rich wraps no cell at 250 columns)."""
    return [line for line in table.splitlines() if line.startswith("│") and "." in line.split("│")[1]]


def test_a_pdf_answer_gives_its_page_and_never_a_running_header_or_footer(mixed: Path) -> None:
    hit = ask(mixed, "How many social care vacancies were there in 2021-22?")
    assert (hit["source"], hit["page"], hit["section"]) == ("nao-ics.pdf", 2, None)
    assert (hit["title"], hit["author"], hit["published"]) == (
        "Introducing Integrated Care Systems",
        "National Audit Office",
        "2022-06-17",
    )
    assert hit["text"].startswith("The workforce gap is the largest risk")
    shown = bot(mixed, "ask", "How many social care vacancies were there in 2021-22?", "--top", "1").stdout
    assert "Introducing Integrated Care Systems · 17 Jun 2022 · p. 2 · nao-ics.pdf, passage" in shown
    passages = [p.text for p in load(mixed).passages]
    assert not any("Page 1 of 3" in t or "HC 155" in t or "National Audit Office |" in t for t in passages)


def test_a_word_hyphenated_across_a_pdf_line_is_found_whole(mixed: Path) -> None:
    hit = ask(mixed, "How slow was the integration of health and care budgets?")
    assert hit["page"] == 1
    assert "their integration, was slow" in hit["text"]


def test_a_word_answer_names_its_section_and_page_headers_are_not_indexed(mixed: Path) -> None:
    hit = ask(mixed, "By when must the discharge fund plan be agreed?")
    assert (hit["source"], hit["section"], hit["page"]) == ("bcf-guidance.docx", "Hospital discharge", None)
    assert (hit["author"], hit["published"]) == ("NHS England", "2023-04-04")
    shown = bot(mixed, "ask", "By when must the discharge fund plan be agreed?", "--top", "1").stdout
    assert "· Hospital discharge · bcf-guidance.docx, passage" in shown
    assert not any("OFFICIAL SENSITIVE" in p.text for p in load(mixed).passages)


def test_a_web_page_gives_only_its_article_with_its_metadata_and_the_citation_links_to_it(mixed: Path) -> None:
    hit = ask(mixed, "How big is the adult social care funding gap councils warned of?")
    assert {k: hit[k] for k in ("source", "title", "author", "published", "publisher", "url")} == {
        "source": "care-gap.html",
        "title": "Councils warn of a care funding gap of 3.2bn",
        "author": "Priya Shah",
        "published": "2023-02-14",
        "publisher": "Health News Daily",
        "url": "https://news.example.org/care-funding-gap",
    }
    page = [p.text for p in load(mixed).passages if p.article.source == "care-gap.html"]
    assert any("funding gap of 3.2bn in adult social care" in t for t in page)
    assert any("largest investment in adult social care" in t for t in page)
    for boilerplate in ("junior doctors", "cookies", "Hospital parking", "daily bulletin", "pothole", "Copyright"):
        assert not any(boilerplate in t for t in page), boilerplate

    index = Index(load(mixed))
    answer = index.search("What did the Department of Health say about the extra 7.5bn?", top=1)
    assert answer.hits[0].passage.section == "What ministers said"
    blocks = json.dumps(answer_message(answer, "q1").blocks)
    assert "<https://news.example.org/care-funding-gap|Councils warn of a care funding gap of 3.2bn>" in blocks
    assert "What ministers said" in blocks


def test_the_sidecar_wins_over_inferred_metadata_and_a_bad_entry_is_reported(mixed: Path) -> None:
    (mixed / "articles.yaml").write_text(
        "nao-ics.pdf:\n  title: NAO report on ICSs\n  published: 2022-06-20\n  publisher: National Audit Office\n"
        "care-gap.html:\n  url: https://www.example.gov.uk/care\n"
        "missing.pdf:\n  title: Not here\n"
        "notes.txt: just a string\n"
        "bcf-guidance.docx:\n  published: the spring\n",
        encoding="utf-8",
    )
    hit = ask(mixed, "How many social care vacancies were there in 2021-22?")
    assert (hit["title"], hit["published"], hit["publisher"]) == (
        "NAO report on ICSs",
        "2022-06-20",
        "National Audit Office",
    )
    assert ask(mixed, "How big is the adult social care funding gap councils warned of?")["url"] == (
        "https://www.example.gov.uk/care"
    )
    assert ask(mixed, "By when must the discharge fund plan be agreed?")["published"] == "2023-04-04"
    done = bot(mixed, "index")
    assert done.returncode == 0
    assert "entry 'missing.pdf' names no article in the folder; ignored it" in done.stdout
    corpus = load(mixed)
    assert [p.message for p in corpus.problems if p.source == "articles.yaml"] == [
        "entry 'missing.pdf' names no article in the folder; ignored it",
        "entry 'notes.txt' is not a file name with 'title:', 'published:'… under it; ignored it",
        "entry 'bcf-guidance.docx': 'published: the spring' is not a date I can read; use 2017-11-03",
    ]
    assert "articles.yaml" not in {a.source for a in corpus.articles}


def test_changing_the_sidecar_changes_the_knowledge_fingerprint_and_the_index_version(mixed: Path) -> None:
    before, version = store.knowledge_fingerprint(mixed), Index(load(mixed)).version
    (mixed / "articles.yaml").write_text("notes.txt:\n  publisher: NHS Providers\n", encoding="utf-8")
    assert store.knowledge_fingerprint(mixed) != before
    assert Index(load(mixed)).version != version
    assert store.knowledge_fingerprint(mixed, max_bytes=1_000) != store.knowledge_fingerprint(mixed)


def test_a_file_over_the_size_limit_is_refused_with_a_message_and_the_rest_load(tmp_path: Path) -> None:
    folder = documents.write(tmp_path / "k", {"big.pdf": nao_pdf(), "notes.txt": "Winter\n\nTrusts opened 5,000 beds."})
    done = bot(folder, "index", env={"MAX_FILE_MB": "0.001"})
    assert done.returncode == 0, done.stderr
    big = next(line for line in done.stdout.splitlines() if line.startswith("│ big.pdf"))
    assert "larger than 0.001 MB (the MAX_FILE_MB setting); split it, or raise MAX_FILE_MB" in big
    assert "1 articles" in done.stdout or "1 article" in done.stdout
    assert bot(folder, "index").stdout.count("│ big.pdf") == 1
    assert "PDF" in next(line for line in bot(folder, "index").stdout.splitlines() if line.startswith("│ big.pdf"))


def test_a_folder_of_only_unreadable_documents_says_why_for_each(tmp_path: Path) -> None:
    folder = documents.write(
        tmp_path / "k", {"scan.pdf": documents.pdf([[]], image_only=(1,)), "locked.pdf": nao_pdf(password="pw")}
    )
    done = bot(folder, "index")
    assert done.returncode == 2
    assert "scan.pdf: no text layer: it needs OCR" in done.stderr
    assert "locked.pdf: encrypted (password-protected)" in done.stderr
