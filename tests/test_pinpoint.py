"""The sentence that answers (bot/pinpoint.py): chosen from the question's ideas, the matched
words' closeness and the kind of thing asked for; always whole, verbatim sentences of the passage."""

from __future__ import annotations

import pytest

from bot.passages import sentence_spans
from bot.pinpoint import MAX_CHARS, answer_span, question_kind
from bot.search import Index

TEXT = (
    "The report found that an increasing number of CCGs had been overspending.\n\n"
    "In 2017-18, 75 of 207 CCGs spent more than planned. This compared with 57 CCGs in 2016-17. "
    "The NAO said councils were not consulted."
)


def found(text: str, *terms: str) -> list[tuple[int, int, str]]:
    """Where each term stands in `text`, as the analyzer reports it (here: the plain word)."""
    out = []
    for term in terms:
        at = text.find(term)
        while at >= 0:
            out.append((at, at + len(term), term))
            at = text.find(term, at + 1)
    return out


def ideas(*weighted: tuple[str, float]) -> list[tuple[tuple[tuple[str, ...], ...], float]]:
    return [(((term,),), weight) for term, weight in weighted]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many CCGs overspent?", "figure"),
        ("what proportion of ccgs were rated good", "figure"),
        ("When did the programme start?", "year"),
        ("what year was it set up", "year"),
        ("Who chairs the LGA board?", "person"),
        ("Why are CCGs merging?", None),
    ],
)
def test_the_kind_of_thing_a_question_asks_for(question: str, kind: str | None) -> None:
    assert question_kind(question) == kind


def test_the_sentence_with_most_of_the_question_is_chosen_whole() -> None:
    start, end = answer_span(TEXT, found(TEXT, "CCGs", "2017-18", "spent"), ideas(("CCGs", 1.0), ("2017-18", 2.0)))

    assert TEXT[start:end] == "In 2017-18, 75 of 207 CCGs spent more than planned."
    assert (start, end) in sentence_spans(TEXT)


def test_what_the_question_asks_for_breaks_a_tie() -> None:
    text = "The NAO looked at CCGs in detail. CCGs were set up in 2013 by the NAO's sponsors."
    terms = found(text, "CCGs", "NAO")
    weights = ideas(("CCGs", 1.0), ("NAO", 1.0))

    when = answer_span(text, terms, weights, question_kind("When were CCGs set up by the NAO?"))
    assert text[when[0] : when[1]] == "CCGs were set up in 2013 by the NAO's sponsors."


def test_an_answer_never_runs_across_paragraphs_or_past_its_length() -> None:
    long_sentence = "Councils " + "and councils " * 60 + "agreed."
    text = f"{long_sentence} Councils met.\n\nCouncils spoke."
    start, end = answer_span(text, found(text, "Councils", "councils"), ideas(("Councils", 1.0)))

    assert "\n" not in text[start:end]
    assert end - start <= max(MAX_CHARS, max(b - a for a, b in sentence_spans(text)))


def test_the_flagship_answer_leads_with_its_sentence(index: Index) -> None:
    [hit] = index.search("How many CCGs overspent in 2017-18?", top=1).hits
    assert hit.answer is not None
    answer = hit.excerpt[hit.answer[0] : hit.answer[1]]

    assert answer.startswith("In 2017-18, 75 of 207 CCGs (36%) spent more than planned")
    assert answer in hit.passage.text  # verbatim
