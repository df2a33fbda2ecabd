"""Passages are what a user is shown: whole sentences, a readable size, headings kept with their text."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from bot.corpus import load
from bot.passages import MAX_CHARS, MAX_WORDS, MIN_WORDS, excerpt, section_headings, sentences, split_passages

KNOWLEDGE = Path(__file__).parent.parent / "knowledge"
SENTENCE_END = (".", "!", "?", '"', "\u201d", "\u2019", "'", ")")

SENTENCE_POOL = [
    "The National Audit Office said that 24 CCGs were failing or at risk of failing.",
    "Spending on running costs fell by \u00a35.7m in 2017-18 compared with the year before.",
    "More than 40% were rated as requiring improvement or inadequate.",
    "\u201cWe have seen almost constant change,\u201d the head of the watchdog said.",
    "Is the current structure fit for the future?",
    "2019 brought another restructuring of commissioning across England.",
    "Councils warned that demand for adult social care was rising faster than funding.",
    "Growth of 1.35 per cent was far below what providers had asked for!",
    "Local authorities and health bodies were urged to pool their budgets.",
    "The report recommended that NHS England publish clearer guidance on integration.",
]
_rng = random.Random(7)
LONG_PARAGRAPH = " ".join(_rng.choice(SENTENCE_POOL) for _ in range(40))
while len(LONG_PARAGRAPH.split()) < 500:
    LONG_PARAGRAPH += " " + _rng.choice(SENTENCE_POOL)

SHORT_PARAGRAPHS = [f"Paragraph {i} says the council met its budget this year." for i in range(12)]  # 10 words each

INTRO = " ".join(SENTENCE_POOL[:3])  # 46 words, a passage of its own size
BODY = " ".join(SENTENCE_POOL[3:9])  # 76 words
HEADING = "What the watchdog found"

SHORT_TEXT = "Councils overspent by \u00a3213m in 2017-18."
ONE_LONG_SENTENCE = "The council said " + " ".join(f"item{i}" for i in range(700)) + " was agreed."


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def real_passages() -> list[str]:
    return [p.text for p in load(KNOWLEDGE).passages]


def test_real_passages_fit_and_end_at_a_sentence_end(real_passages: list[str]) -> None:
    """Every passage of the shipped articles can be shown whole and does not stop mid-sentence."""
    assert len(real_passages) > 10
    too_big = [p[:40] for p in real_passages if len(p) > MAX_CHARS or len(p.split()) > MAX_WORDS]
    assert too_big == []
    unfinished = [p[-40:] for p in real_passages if not p.endswith(SENTENCE_END)]
    assert unfinished == []


def test_real_passages_never_end_on_a_heading(real_passages: list[str]) -> None:
    """A heading in the shipped articles always opens the passage of the text it introduces."""
    last_paragraphs = [p.split("\n\n")[-1] for p in real_passages]
    assert [p for p in last_paragraphs if not p.rstrip().endswith(SENTENCE_END)] == []


def test_long_paragraph_is_split_between_sentences() -> None:
    """A 500-word paragraph becomes several passages of whole sentences with nothing lost or reordered."""
    pieces = split_passages([LONG_PARAGRAPH])
    assert len(pieces) >= 3
    assert all(len(p) <= MAX_CHARS and len(p.split()) <= MAX_WORDS for p in pieces)
    assert all(p.endswith(SENTENCE_END) for p in pieces)
    assert normalise(" ".join(pieces)) == normalise(LONG_PARAGRAPH)
    assert [s for p in pieces for s in sentences(p)] == sentences(LONG_PARAGRAPH)


def test_sentences_keep_figures_and_quotes_whole() -> None:
    """Decimal points, closing quotes and sentences opening with a figure are handled as a reader would."""
    paragraph = " ".join(SENTENCE_POOL[:6])
    assert sentences(paragraph) == SENTENCE_POOL[:6]


def test_short_paragraphs_are_grouped_to_reach_min_words() -> None:
    """One-line paragraphs are not shown alone; they are grouped, separated by blank lines."""
    passages = split_passages(SHORT_PARAGRAPHS)
    assert all(len(p.split()) >= MIN_WORDS for p in passages)
    assert [q for p in passages for q in p.split("\n\n")] == SHORT_PARAGRAPHS


def test_small_paragraph_groups_follow_the_limits() -> None:
    """With tighter limits, grouping still never breaks the word limit and keeps paragraph order."""
    passages = split_passages(SHORT_PARAGRAPHS, min_words=20, max_words=35)
    assert passages == ["\n\n".join(SHORT_PARAGRAPHS[i : i + 3]) for i in range(0, 12, 3)]


def test_heading_moves_to_the_passage_it_introduces() -> None:
    """A heading that would end a passage is carried over to open the next one, with its text."""
    passages = split_passages([INTRO, BODY, HEADING, BODY], max_words=130)
    assert passages == [f"{INTRO}\n\n{BODY}", f"{HEADING}\n\n{BODY}"]


def test_heading_is_never_left_at_the_end_of_a_passage() -> None:
    """Whatever the paragraph sizes, a heading followed by text is not separated from that text."""
    rng = random.Random(11)
    for _ in range(200):
        paragraphs: list[str] = []
        for _ in range(rng.randint(2, 10)):
            heading = rng.random() < 0.25 and (not paragraphs or paragraphs[-1] != HEADING)
            paragraphs.append(HEADING if heading else " ".join(rng.sample(SENTENCE_POOL, rng.randint(1, 4))))
        passages = split_passages(paragraphs)
        assert [q for p in passages for q in p.split("\n\n")] == paragraphs
        for passage in passages[:-1]:
            assert passage.split("\n\n")[-1] != HEADING, paragraphs


def test_section_headings_label_later_passages() -> None:
    """A passage under a heading from an earlier passage is labelled with it; one that opens with it is not."""
    passages = ["Some opening text.", f"{HEADING}\n\n{BODY}", INTRO, "Next part\n\nMore text.", BODY]
    assert section_headings(passages) == [None, None, HEADING, None, "Next part"]


def test_excerpt_of_short_text_is_the_text() -> None:
    """A passage that fits is shown exactly as written."""
    assert excerpt(SHORT_TEXT, 10, 1000) == (SHORT_TEXT, 0)


@pytest.mark.parametrize("word", ["item3", "item350", "item699"])
def test_excerpt_of_one_long_sentence_shows_the_focus_word(word: str) -> None:
    """A 5,000-character sentence is cut to the limit around the matched word, marked with '…'."""
    assert len(ONE_LONG_SENTENCE) > 5000
    focus = ONE_LONG_SENTENCE.index(f" {word} ") + 1
    shown, shift = excerpt(ONE_LONG_SENTENCE, focus, 1000)
    assert len(shown) <= 1000
    assert f" {word} " in shown
    assert shown.startswith("…") or shift == 0
    assert shown.endswith("…") or shown.endswith("was agreed.")
    start = 1 if shown.startswith("…") else 0
    end = len(shown) - 1 if shown.endswith("…") else len(shown)
    assert shown[start:end] == ONE_LONG_SENTENCE[start + shift : end + shift]


@pytest.mark.parametrize("limit", [120, 300, 1000])
def test_excerpt_offsets_map_back_to_the_text(limit: int) -> None:
    """Highlights are shifted by `shift`, so every shown character must be the text's character there."""
    text = LONG_PARAGRAPH
    for focus in range(0, len(text), 97):
        shown, shift = excerpt(text, focus, limit)
        assert len(shown) <= limit
        start = 1 if shown.startswith("…") else 0
        end = len(shown) - 1 if shown.endswith("…") else len(shown)
        assert end - start > limit // 3
        assert shown[start:end] == text[start + shift : end + shift]


def test_a_heading_moved_to_its_text_never_makes_a_passage_too_long() -> None:
    intro = ("Officials said the plan was agreed. " * 10).strip()
    body = ("The council reviewed its budget plans for local care services again this year. " * 12).strip()
    passages = split_passages([intro, "Budget plans for local care services", body + " Costs rose sharply."])
    assert max(len(p) for p in passages) <= 1000


def test_consecutive_headings_stay_with_the_text_they_introduce() -> None:
    big = ("Officials said the plan was agreed. " * 26).strip()
    intro = ("Officials said the plan was agreed. " * 10).strip()
    passages = split_passages([big, "Part one", "Overview", intro])
    assert [p.split("\n\n")[-1] for p in passages] == [big, intro]


def test_excerpt_keeps_the_word_it_was_centred_on() -> None:
    text = "word " * 75 + "Budget overspend here. " + "Another sentence follows with several words in it. " * 20
    shown, _ = excerpt(text, text.index("Budget"), 1000)
    assert "Budget overspend here." in shown and len(shown) <= 1000
