"""Cleaning the real scraped pages: what a reader of an answer must and must not see."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import clean
from bot.characters import fold
from bot.corpus import Corpus
from tests.conftest import KNOWLEDGE

TITLES = {
    "000_eb80a55c94ec531c.txt": "Spending watchdog concern at proportion of CCGs failing to function effectively",
    "001_b0b6f014ac911fae.txt": "Spending watchdog warns of impact of service and financial pressures faced by NHS and "
    "councils on Integrated Care Systems",
    "002_7e7e99689b788a06.txt": "Most leaders would leave if groups' budgets were given to councils, survey finds",
    "003_6bb7e4c893f45a2a.txt": "Commissioning aid is terminated despite saving councils millions",
    "004_41aa59598580c461.txt": "NHS commissioning power ‘should be devolved to 38 super councils’",
}

# Text from the pages that is not the article: it must never be shown as an excerpt.
CHROME = [
    "SPOTLIGHT",
    "Shelved 400px",
    "What now for deprivations of liberty?",
    "Local Government Lawyer asked 50 adult social care lawyers",
    "A zero sum game?",
    "SEND tribunal cases",
    "By continuing to use the site",
    "cookies disabled",
    "Your browser is no longer supported",
    "upgrade to a newer version",
    "Readers' comments",
    "GPS playing the system",  # reader comments
    "taken leave of his senses",
    "Torbay was a care trust",
    "spending more of their time treating patients",
    "total meltdown",
    "Unsuitable or offensive?",
    "Have your say",
    "You must sign in",
    "Sign up to get the latest",
    "Did you enjoy this article?",
    "See also: ICS lessons",
    "3 Nov 17",
]


def test_titles_are_the_headlines(corpus: Corpus) -> None:
    """Each article's title is its headline, not a nav label, teaser or cookie notice."""
    assert {a.source: a.title for a in corpus.articles} == TITLES


def test_dates_come_from_the_dateline_only(corpus: Corpus) -> None:
    """'3 Nov 17' under the headline is a publication date; dates in the body are not."""
    assert {a.source: a.published for a in corpus.articles} == {
        "000_eb80a55c94ec531c.txt": None,
        "001_b0b6f014ac911fae.txt": None,
        "002_7e7e99689b788a06.txt": None,
        "003_6bb7e4c893f45a2a.txt": None,
        "004_41aa59598580c461.txt": dt.date(2017, 11, 3),
    }


@pytest.mark.parametrize("chrome", CHROME)
def test_no_passage_contains_site_chrome_or_comments(corpus: Corpus, chrome: str) -> None:
    assert [p.id for p in corpus.passages if fold(chrome) in fold(p.text)] == []


def test_every_article_keeps_its_body(corpus: Corpus) -> None:
    """Cleaning removes chrome, not content: first and last body sentences survive."""
    bodies: dict[str, str] = {}
    for p in corpus.passages:
        bodies[p.article.source] = bodies.get(p.article.source, "") + "\n" + p.text
    bodies = {source: body.strip() for source, body in bodies.items()}
    assert bodies["000_eb80a55c94ec531c.txt"].startswith("Many clinical commissioning groups (CCGs)")
    assert bodies["000_eb80a55c94ec531c.txt"].endswith("prolonged period of stability.”")
    assert bodies["002_7e7e99689b788a06.txt"].endswith("will of course listen to CCG leads.”")
    assert "Lorraine O’Reilly, programme director" in bodies["003_6bb7e4c893f45a2a.txt"]
    assert bodies["004_41aa59598580c461.txt"].endswith("public services that work for all.”")


def test_shared_paragraphs_are_chrome_but_copies_are_not() -> None:
    nav = "Read our latest spotlight on adult social care."
    a = [nav, "Article one says councils will merge next year across the region."]
    b = [nav, "Article two is about NHS trusts and their deficits this winter."]
    copy = ["Article two is about NHS trusts and their deficits this winter."]
    shared = clean.shared_text([a, b, copy])
    assert shared.chrome == {clean.paragraph_key(nav)}
    assert shared.copies == ((1, 2),)


def test_comments_without_a_heading_are_still_cut() -> None:
    """A page whose comments section lost its heading still loses its comments."""
    text = (KNOWLEDGE / "002_7e7e99689b788a06.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in clean.split_paragraphs(text) if not p.startswith("Readers' comments")]
    body = clean.clean(paragraphs).paragraphs
    assert body[-1].endswith("will of course listen to CCG leads.”")
    assert not any("GPS playing the system" in p for p in body)


def test_front_matter_wins_over_inference() -> None:
    front, body = clean.split_front_matter(
        "---\ntitle: 'ICS guidance: what changes'\npublished: 2022-07-01\npublisher: NHS England\n"
        "url: https://example.org/ics\nauthor: someone\n---\nICS guidance: what changes\n\nBody text."
    )
    assert (front.title, front.published, front.publisher, front.url) == (
        "ICS guidance: what changes",
        dt.date(2022, 7, 1),
        "NHS England",
        "https://example.org/ics",
    )
    assert front.warnings == ("unknown front matter key 'author' ignored (known: title, url, published, publisher)",)
    assert clean.clean(clean.split_paragraphs(body), title=front.title).paragraphs == ("Body text.",)


def test_bad_front_matter_is_reported_not_fatal() -> None:
    front, body = clean.split_front_matter("---\ntitle: [unclosed\n---\nText")
    assert front.title is None and "not valid YAML" in front.warnings[0]
    assert body == "Text"


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("3 Nov 17", dt.date(2017, 11, 3)),
        ("Published 3 November 2017", dt.date(2017, 11, 3)),
        ("November 3, 2017", dt.date(2017, 11, 3)),
        ("2017-11-03", dt.date(2017, 11, 3)),
        ("03/11/2017", dt.date(2017, 11, 3)),
        ("31 Feb 2017", None),
        ("In 2017-18, 75 of 207 CCGs (36%) spent more than planned", None),
    ],
)
def test_datelines(text: str, date: dt.date | None) -> None:
    assert clean.dateline(text) == date


def test_markdown_is_read_as_text() -> None:
    md = "# ICS guidance\n\nSee [the report](https://x.org) for **key** points.\n\n![chart](c.png)\n"
    assert clean.split_paragraphs(md, markdown=True) == ["ICS guidance", "See the report for key points."]


def test_hard_wrapped_lines_are_joined() -> None:
    text = "Councils have had so little time to take decisions about\ncuts that they are not able to plan.\nSPOTLIGHT"
    assert clean.split_paragraphs(text) == [
        "Councils have had so little time to take decisions about cuts that they are not able to plan.",
        "SPOTLIGHT",
    ]
