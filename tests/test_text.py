"""The analyzer: questions and articles written differently must meet on the same terms."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.search import Index
from bot.text import (
    _LOOK_BACK,
    _WORDS_BEFORE,
    CONCEPTS,
    PERCENT,
    STOP_WORDS,
    YEAR,
    Analyzer,
    Synonyms,
    Term,
    _words_can_start,
    contains_phrase,
    find_definitions,
)

PLAIN = Analyzer()


def words(text: str) -> list[str]:
    """The terms of `text` other than the figure concepts (% and #year)."""
    return [t for t in PLAIN.terms(text) if t not in CONCEPTS]


# Groups of spellings a reader considers the same; each group must analyze identically.
SAME_TERMS = {
    "quotes and dashes": [
        "\u201cNHS\u201d \u2013 cuts \u2018plans\u2019",
        "\"NHS\" - cuts 'plans'",
        "\u201cNHS\u201d \u2014 cuts \u2018plans\u2019",
        "\u201cNHS\u201d \u2212 cuts \u2018plans\u2019",
    ],
    "financial year": ["2017-18", "2017/18", "2017-2018", "2017\u201318", "2017\u20132018", "17/18", "17-18"],
    "financial year across a century": ["1999-00", "1999/2000", "99/00"],
    "millions": ["\u00a3213m", "\u00a3213 million", "213m", "213 million"],
    "billions": ["\u00a31.5bn", "\u00a31.5 billion", "1.5bn"],
    "per cent": ["36%", "36 per cent", "Thirty-six per cent", "thirty six per cent", "36 percent"],
    "thousands separator": ["1,000", "1000"],
    "plural": ["councils", "council", "Council's"],
    "irregular past": ["overspent", "overspend", "overspending", "overspends"],
}

SINGLE_TERM = {
    "2017-18": "2017-18",
    "\u00a3213m": "213m",
    "36%": "36%",
    "5.7": "5.7",
    "1.35": "1.35",
    "1,000": "1000",
    "\u00a35.7 billion": "5.7bn",
}

ICS_ARTICLE = "The new Integrated Care Systems (ICSs) will replace clinical commissioning groups."
NHSE_ARTICLE = "NHS England (NHSE) said the plans were agreed."
SHOUTING_ARTICLES = ["Councils face CUTS again this year.", "The cuts hit adult social care hardest. CCGs agreed."]

SYNONYM_FILE = "councils = local authorities\n# note\nbad line\n"


@pytest.mark.parametrize("text", ["3/4", "11/14", "18/17", "2/1", "07/07"])
def test_pairs_of_numbers_that_are_not_consecutive_years_stay_as_written(text: str) -> None:
    assert YEAR not in PLAIN.terms(text)


@pytest.mark.parametrize("group", SAME_TERMS.values(), ids=SAME_TERMS.keys())
def test_equivalent_spellings_give_the_same_terms(group: list[str]) -> None:
    """A question finds an article however either one writes quotes, dashes, years, money or plurals."""
    first = PLAIN.terms(group[0])
    assert first, group[0]
    assert [PLAIN.terms(text) for text in group] == [first] * len(group)


@pytest.mark.parametrize(("text", "term"), SINGLE_TERM.items())
def test_figures_stay_whole(text: str, term: str) -> None:
    """A figure is one term, so '5.7' does not match every passage mentioning a 5 or a 7."""
    assert words(text) == [term]


def test_question_reduces_to_its_content_words() -> None:
    """Stop words and chatty words are dropped; what is left is what the question is about."""
    assert words("How many CCGs overspent in 2017-18?") == ["ccg", "overspend", "2017-18"]
    assert PLAIN.terms("What is the, and of it? Please tell me") == []
    assert {"the", "what", "please", "how"} <= STOP_WORDS


def test_acronym_defined_in_corpus_matches_its_long_form() -> None:
    """'ICS', 'ICSs' and 'integrated care systems' all reach passages that use any of them."""
    analyzer = Analyzer.for_corpus([ICS_ARTICLE])
    assert "ics" in analyzer.acronyms
    assert analyzer.terms("ICS") == analyzer.terms("ICSs") == ["ics"]
    assert "ics" in analyzer.terms("integrated care systems")
    assert "ics" in analyzer.terms("What does an Integrated Care System do?")
    assert "ics" not in PLAIN.terms("integrated care systems")  # learned from the corpus, not built in


def test_acronym_defined_after_another_acronym() -> None:
    """'NHS England (NHSE)': a long form may itself contain an acronym."""
    analyzer = Analyzer.for_corpus([NHSE_ARTICLE])
    assert analyzer.terms("NHSE") == ["nhse"]
    assert analyzer.terms("NHS England") == ["nhs", "england", "nhse"]
    assert find_definitions(ICS_ARTICLE + " " + NHSE_ARTICLE) == [
        (["Integrated", "Care", "Systems"], "ICSs"),
        (["NHS", "England"], "NHSE"),
    ]


def test_brackets_that_do_not_spell_the_words_are_not_definitions() -> None:
    """'(XYZ)' after unrelated words is not taken as an acronym's definition."""
    assert find_definitions("the local council (XYZ) agreed") == []


def test_long_form_span_covers_the_whole_phrase() -> None:
    """The acronym added for a long form points at the phrase, so the phrase is highlighted."""
    analyzer = Analyzer.for_corpus([ICS_ARTICLE])
    text = "Integrated care systems"
    added = [s for s in analyzer.spans(text) if s.text == "ics"]
    assert added == [Term("ics", 0, len(text), 3)]


def test_shouted_word_used_in_lower_case_is_not_an_acronym() -> None:
    """'CUTS' in a headline is shouting when the corpus also writes 'cuts'; 'cuts' keeps being stemmed."""
    analyzer = Analyzer.for_corpus(SHOUTING_ARTICLES)
    assert analyzer.acronyms == frozenset({"ccg"})
    assert analyzer.terms("the cuts") == analyzer.terms("a cut") == ["cut"]


def test_spans_point_at_the_words_as_written() -> None:
    """Highlighting uses the spans, so text[start:end] must be the original word, curly quotes and all."""
    text = "The \u201cIntegrated\u201d councils\u2019 budgets \u2013 \u00a3213 million in 2017\u201318"
    spans = [s for s in PLAIN.spans(text) if s.text not in CONCEPTS]
    assert [(s.text, text[s.start : s.end]) for s in spans] == [
        ("integr", "Integrated"),
        ("council", "councils"),
        ("budget", "budgets"),
        ("213m", "\u00a3213 million"),
        ("2017-18", "2017\u201318"),
    ]


def test_synonyms_file_is_parsed_with_line_warnings() -> None:
    """An editor's bad line is reported by number and the good lines still work."""
    synonyms, warnings = Synonyms.parse(SYNONYM_FILE, PLAIN)
    assert synonyms.groups == ((("council",), ("local", "author")),)
    assert len(warnings) == 1
    assert warnings[0].startswith("line 3:")


def test_synonyms_expand_a_question() -> None:
    """A question about councils also searches for 'local authorities'."""
    synonyms, _ = Synonyms.parse(SYNONYM_FILE, PLAIN)
    question = PLAIN.terms("what do councils think")
    expanded = synonyms.expand(question)
    assert expanded[: len(question)] == question
    assert set(PLAIN.terms("local authorities")) <= set(expanded)
    assert synonyms.expand(PLAIN.terms("hospital beds")) == PLAIN.terms("hospital beds")


def test_one_way_synonyms_lead_everyday_words_to_the_articles_words() -> None:
    """'in the red' also searches for overspend; a question saying overspend is left alone."""
    synonyms, warnings = Synonyms.parse("busted budget, in the red => overspend\nred =>\n", PLAIN)
    assert synonyms.expand(PLAIN.terms("CCGs in the red")) == ["ccg", "red", "overspend"]
    assert synonyms.expand(PLAIN.terms("they busted their budgets")) == ["bust", "budget", "overspend"]
    assert synonyms.expand(PLAIN.terms("CCGs overspent")) == ["ccg", "overspend"]
    assert [w[:7] for w in warnings] == ["line 2:"]  # nothing to lead to


# Questions in everyday words, and a phrase of the passage that says it in the article's words:
# knowledge/synonyms.txt must lead one to the other.
PARAPHRASES = {
    "in the red": ("how far in the red were CCGs altogether?", "CCGs had been overspending"),
    "deficit": ("CCGs in deficit", "CCGs had been overspending"),
    "audit office boss": ("who is the boss of the audit office?", "The head of the spending watchdog, Amyas Morse"),
    "churn": ("how much churn among directors?", "The turnover rate of professionals"),
    "wound up": ("is the CSP being wound up?", "ceases next month"),
}


@pytest.mark.parametrize(("question", "phrase"), PARAPHRASES.values(), ids=PARAPHRASES.keys())
def test_a_paraphrase_finds_the_passage_in_the_articles_words(index: Index, question: str, phrase: str) -> None:
    assert phrase in index.search(question).hits[0].excerpt


def test_questions_in_the_articles_words_are_not_expanded_with_slang(index: Index) -> None:
    """One-way groups: 'CCGs' is not also searched as 'clinical groups', 'NAO' not as 'watchdog'."""
    assert index.analyze("How many CCGs did the NAO rate?").terms == ("ccg", "nao", "rate")


def test_contains_phrase_needs_consecutive_terms() -> None:
    """A multi-word synonym applies only when its words occur together and in order."""
    terms = ["local", "author", "budget"]
    assert contains_phrase(terms, ("local", "author"))
    assert not contains_phrase(terms, ("author", "local"))
    assert not contains_phrase(["local", "budget", "author"], ("local", "author"))
    assert contains_phrase(terms, ("budget",))


def test_very_long_input_is_analyzed_completely() -> None:
    """A 100,000-character article is analyzed in full: every sentence contributes its terms."""
    sentence = "The councils overspent \u00a3213m in 2017-18. "
    text = sentence * (100_000 // len(sentence))
    text += " " * (100_000 - len(text))
    assert len(text) == 100_000
    terms = words(text)
    repeats = 100_000 // len(sentence)
    assert terms[:4] == ["council", "overspend", "213m", "2017-18"]
    assert len(terms) == 4 * repeats
    assert terms.count("213m") == repeats


def test_a_shouted_word_matches_the_word() -> None:
    """'CUTS' in a headline is the word cuts, not an acronym, once the corpus shows it in lower case."""
    analyzer = Analyzer.for_corpus(["Councils face CUTS again.", "The cuts hit adult care."])
    assert analyzer.terms("CUTS") == analyzer.terms("cuts") == ["cut"]


def test_percentages_and_years_also_stand_for_their_kind() -> None:
    """'What proportion of CCGs...' finds '36%', and a 'when' question can prefer a passage with a year."""
    assert PLAIN.terms("75 of 207 CCGs (36%)").count(PERCENT) == 1
    assert PLAIN.terms("Forty-two per cent said no") == ["42%", PERCENT]
    for question in ("What % of CCGs overspent?", "what proportion of CCGs overspent", "the percentage"):
        assert PERCENT in PLAIN.terms(question), question
    assert PLAIN.terms("set up in 2008 and reviewed in 2017/18") == ["set", "2008", YEAR, "review", "2017-18", YEAR]
    assert YEAR not in PLAIN.terms("207 CCGs, 1,000 staff and £2008m")


# Pieces of text for the property tests: words, figures, acronyms and long forms, punctuation
# and Unicode that the analyzer folds, normalises or must pass over.
PIECES = [
    *("councils", "Council's", "overspent", "the", "care", "one-off", "per", "cent", "percent", "billion"),
    *("m", "thirty-six", "thirty", "six", "Forty", "two", "nineteen", "2017-18", "2017/2018", "£5.7", "£213m"),
    *("36%", "1,000", "5.7", "2008", "1990s", "$", "€", "£", "%", "ICS", "ICSs", "NHS", "NHSE", "A&E", "CUTS"),
    *("Integrated Care Systems", "integrated care system", "NHS England", "(ICSs)", "Thirty six per cent"),
    *("\u2019", "\u201c", "\u2013", "\u2212", "\u00a0", "\uff05", "\uffe1", "'", "-", "/", ",", ".", "(", ")"),
    *("²", "½", "٣٤", "Ⅻ", "ﬁnance", "İstanbul", "café", "cafe\u0301", "Straße", "_", "\u200b", "🙂"),
]  # fmt: skip
TEXTS = st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(["", " ", "  ", "-", "\n"])), max_size=12).map(
    lambda parts: "".join(piece + gap for piece, gap in parts)
)
ANALYZERS = {"plain": PLAIN, "corpus": Analyzer.for_corpus([ICS_ARTICLE, NHSE_ARTICLE, *SHOUTING_ARTICLES])}


@pytest.mark.parametrize("name", ANALYZERS)
@given(text=TEXTS, data=st.data())
def test_terms_highlights_and_spans_agree(name: str, text: str, data: st.DataObject) -> None:
    """`terms` and `highlights` are faster ways to the same results as `spans`, which point into the text."""
    analyzer = ANALYZERS[name]
    spans = analyzer.spans(text)
    assert analyzer.terms(text) == [s.text for s in spans]
    assert all(0 <= s.start < s.end <= len(text) for s in spans)
    wanted = data.draw(st.sets(st.sampled_from(sorted({s.text for s in spans} | {"ics", "nhse", "council"}))))
    assert analyzer.highlights(text, wanted) == [(s.start, s.end) for s in spans if s.text in wanted]


def test_digits_the_figure_pattern_does_not_take_are_word_characters() -> None:
    """A superscript or a vulgar fraction on its own is part of no figure, and does not stop the analysis."""
    assert PLAIN.terms("10 m ² and ½ done") == ["10", "1⁄2", "done"]


DEFINITION_WORDS = ["Integrated", "care", "Systems", "NHS", "of", "A&E", "it's", "x1", "w" * 99, "1st", "_x", "-"]
DEFINITION_TEXTS = st.lists(
    st.tuples(
        st.lists(st.sampled_from(DEFINITION_WORDS), min_size=8, max_size=14).map(" ".join),
        st.sampled_from([" ", "  ", "\n", "\u00a0", ", ", ".", ""]),
    ),
    max_size=5,
).map(lambda parts: "".join(words + gap for words, gap in parts))


@given(DEFINITION_TEXTS)
@example("x.Integrated care Systems")  # from just after a full stop
@example("Integrated care " * 6)  # twelve words: the last ten
@example("w" * 390 + " Integrated care Systems")  # the 400th character back is inside a word
def test_long_forms_are_searched_for_only_where_they_can_start(text: str) -> None:
    """Searching the words before a bracket from where they can start finds what searching all of
    the 400 characters before it finds, much faster."""
    text += " (ICSs)"
    bracket = len(text) - len("(ICSs)")
    everywhere = _WORDS_BEFORE.search(text, max(0, bracket - _LOOK_BACK), bracket)
    narrowed = _WORDS_BEFORE.search(text, _words_can_start(text, bracket), bracket)
    assert (narrowed and narrowed.span()) == (everywhere and everywhere.span())


# Figures as a question writes them, and a phrase of the passage that writes them otherwise.
FIGURES_WRITTEN_OTHERWISE = {
    "17/18 for 2017-18": ("How many CCGs overspent in 17/18?", "In 2017-18, 75 of 207 CCGs"),
    "2017/18 for 2017-18": ("How many CCGs overspent in 2017/18?", "In 2017-18, 75 of 207 CCGs"),
    "2017–2018 for 2017-18": ("CCGs rated outstanding or good in 2017\u20132018", "in 2017-18"),
    "£213 million for £213m": ("a total overspend of £213 million", "£213m across all CCGs"),
    "£1.5 billion for £1.5bn": ("Jobcentre Plus worth £1.5 billion", "worth £1.5bn"),
    "£5.7bn for £5.7 billion": ("ICSs must save £5.7bn", "£5.7 billion"),
    "1.2bn for £1.21 billion": ("what is the 1.2bn figure about?", "£1.21 billion currently"),
}


@pytest.mark.parametrize(
    ("question", "phrase"), FIGURES_WRITTEN_OTHERWISE.values(), ids=FIGURES_WRITTEN_OTHERWISE.keys()
)
def test_a_figure_finds_the_passage_that_writes_it_otherwise(index: Index, question: str, phrase: str) -> None:
    """A question's figure meets the article's however each writes the year or the amount."""
    assert phrase in index.search(question).hits[0].excerpt


def test_precise_amounts_also_give_their_rounding() -> None:
    """'£1.21 billion' is asked about as '1.2bn'; a question's own rounding stays one term."""
    assert words("£1.21 billion") == ["1.21bn", "1.2bn"]
    assert words("£1.25m") == ["1.25m", "1.3m"]  # half up, as people round money
    assert words("1.2bn") == words("£1.2 billion") == ["1.2bn"]
    assert words("£5.7 billion") == ["5.7bn"]
    assert words("1.21") == ["1.21"]  # a plain number is no amount of money
