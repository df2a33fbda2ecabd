"""Answer quality on the tuning set, as team members ask questions.

tests/questions.yaml is the set the engine is tuned on: 152 on-topic and 53 off-topic questions,
of which 40 and 12 were once a held-out set (tests/questions_holdout.yaml). That set was used to
choose BM25's parameters and a synonym, so it was folded in here (issue 14). Measured when folded:
hit@1 0.845, hit@3 0.948, 6 of 27 off-topic questions answered (all six from the former held-out
set: office questions in the articles' words, "NHS pension contribution rates for a band 7").
Then 30 paraphrased questions were added (issue 14, item 6: "go over budget", "walk", "audit
office"), before anything was tuned on them: hit@1 0.774, hit@3 0.884, pinpoint 0.664. After the
figure roundings and the everyday-words thesaurus in knowledge/synonyms.txt (issue 14, items 5
and 6): hit@1 0.849, hit@3 0.966, pinpoint 0.719, still 6 of 27 off-topic questions answered.
In parallel 26 off-topic questions in the domain's words (PFI, TUPE, ICB, pension, precept) and 6
misspelt or paraphrased ones were added before the abstention and spelling rules were made (issue
14, item 3): 30 of the 53 off-topic questions were answered before the rules, 20 after. All merged:
hit@1 0.842, hit@3 0.961, pinpoint 0.711, 2 of 152 on-topic questions unanswered.
The floors below are the latest figures: they stop regressions, and rise as issue 14's work lands.

Its `conversations:` (19 of them, 26 follow-up turns) were written for bot/conversation.py: when
added, 26 of 26 follow-ups were right in the top 3 and 24 at rank 1 (before it, the terminal chat
got 11 and Slack's thread follow-ups 23 in the top 3). Their floors are one turn below that, as
the search changes under them while issue 14's other items land.

tests/questions_blind.yaml is the held-out set: written by someone who read only the articles,
never used to choose anything, and not tested here (a floor on it would be a choice made on it).
`python -m bot evaluate [QUESTIONS]` prints the misses.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.characters import fold
from bot.evaluate import Report, evaluate, parse_set
from bot.search import Index
from tests.conftest import KNOWLEDGE

QUESTIONS, CONVERSATIONS, _ = parse_set((Path(__file__).parent / "questions.yaml").read_text(encoding="utf-8"))
# Measured when the conversation, paraphrase and abstention work merged (152 on-topic, 53 off-topic):
HIT_AT_1_FLOOR = 128 / 152  # 0.842
HIT_AT_3_FLOOR = 146 / 152  # 0.961
PINPOINT_FLOOR = 108 / 152  # 0.711: the first result's answer sentence holds the expected phrase
OFF_TOPIC_ANSWERED_CEILING = 19  # of 53; 26 of them added in the domain's words (30 answered before the rules)
FALSE_ABSTENTIONS_CEILING = 2  # of 152 on-topic questions
FOLLOW_UPS_FLOOR = 25 / 26  # 0.962: a follow-up's phrase in a top-3 result, read with its conversation
FOLLOW_UPS_AT_1_FLOOR = 23 / 26  # 0.885: ... in the first result


@pytest.fixture(scope="module")
def report(index: Index) -> Report:
    return evaluate(index, QUESTIONS, conversations=CONVERSATIONS)


def test_the_question_set_is_realistic_in_size() -> None:
    on_topic = [q for q in QUESTIONS if q.expect]
    assert len(on_topic) >= 40
    assert len(QUESTIONS) - len(on_topic) >= 10
    assert {q.source for q in on_topic} == {
        "000_eb80a55c94ec531c.txt",
        "001_b0b6f014ac911fae.txt",
        "002_7e7e99689b788a06.txt",
        "003_6bb7e4c893f45a2a.txt",
        "004_41aa59598580c461.txt",
    }


def test_off_topic_questions_answered_do_not_grow(report: Report) -> None:
    answered = [o.question.q for o in report.off_topic_answered]
    print("off-topic answered:", answered)
    assert len(answered) <= OFF_TOPIC_ANSWERED_CEILING


def test_answerable_questions_abstained_do_not_grow(report: Report) -> None:
    abstained = [o.question.q for o in report.on_topic if not o.answered]
    print("on-topic abstained:", abstained)
    assert len(abstained) <= FALSE_ABSTENTIONS_CEILING


def test_hit_rates(report: Report) -> None:
    rates = f"hit@1 {report.hit_at(1):.3f}, hit@3 {report.hit_at(3):.3f}, pinpoint {report.pinpoint:.3f}"
    print(f"{rates}, abstained {report.wrongly_abstained:.3f}")
    assert report.hit_at(1) >= HIT_AT_1_FLOOR
    assert report.hit_at(3) >= HIT_AT_3_FLOOR
    assert report.pinpoint >= PINPOINT_FLOOR


def test_the_conversations_cover_every_kind_of_follow_up() -> None:
    follow_ups = [turn.q for turns in CONVERSATIONS for turn in turns[1:]]
    assert len(CONVERSATIONS) >= 15
    for kind in (r"^and in 20", r"^what about", r"year before", r"following year", r"\bhe\b", r"\bthey\b",
                 r"\bit\b", r"^who said that", r"^and how many CCGs", r"^(thanks|ok|👍)"):  # fmt: skip
        assert any(re.search(kind, q, re.IGNORECASE) for q in follow_ups), kind


def test_follow_ups(report: Report) -> None:
    print(
        f"follow-ups right: {report.follow_ups_right(3):.3f} in the top 3, {report.follow_ups_right(1):.3f} at rank 1"
    )
    for follow_up in report.follow_ups:
        if not follow_up.right_at(1):
            print(f"  rank {follow_up.rank or '-'}: {follow_up.question.q} -> {follow_up.resolved}")
    assert len(report.follow_ups) >= 20
    assert report.follow_ups_right(3) >= FOLLOW_UPS_FLOOR
    assert report.follow_ups_right(1) >= FOLLOW_UPS_AT_1_FLOOR


def test_bot_beats_rank_bm25_used_as_its_readme_shows(report: Report) -> None:
    """rank-bm25 as its README shows it: raw paragraphs split on spaces, BM25Okapi defaults."""
    paragraphs = [
        (path.name, p)
        for path in sorted(KNOWLEDGE.glob("0*.txt"))
        for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))
        if p.strip()
    ]
    bm25 = BM25Okapi([p.split(" ") for _, p in paragraphs])
    on_topic = [q for q in QUESTIONS if q.expect]
    naive_hits = 0
    for q in on_topic:
        source, text = paragraphs[int(np.argmax(bm25.get_scores(q.q.split(" "))))]
        naive_hits += source == q.source and fold(q.expect or "") in fold(text)
    naive = naive_hits / len(on_topic)
    print(f"rank-bm25 as its README shows: hit@1 {naive:.3f}; the bot: {report.hit_at(1):.3f}")
    assert report.hit_at(1) >= naive + 0.3
