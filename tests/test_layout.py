"""PDF text -> paragraphs: running headers and footers, hyphenation, paragraph breaks, metadata."""

from __future__ import annotations

import datetime as dt

from bot.layout import (
    first_page_title,
    metadata_title,
    page_paragraphs,
    pdf_date,
    rejoin_lines,
    remove_running_lines,
)

PAGES = [
    ["NAO | Introducing ICSs", "", "Integrated care systems plan services.", "Page 1 of 3"],
    ["NAO | Introducing ICSs", "", "The workforce gap is the largest risk.", "Page 2 of 3"],
    ["NAO | Introducing ICSs", "", "Councils face rising demand for care.", "Page 3 of 3"],
]


def test_header_and_footer_lines_repeated_across_pages_are_removed_page_numbers_and_all() -> None:
    pages, running = remove_running_lines(PAGES)
    assert pages == [
        ["", "Integrated care systems plan services."],
        ["", "The workforce gap is the largest risk."],
        ["", "Councils face rising demand for care."],
    ]
    assert running == 2


def test_a_line_on_one_page_only_is_content_even_at_the_top() -> None:
    pages, running = remove_running_lines([["Summary", "Text one."], ["Findings", "Text two."]])
    assert pages == [["Summary", "Text one."], ["Findings", "Text two."]]
    assert running == 0


def test_a_word_hyphenated_at_a_line_end_is_rejoined_but_a_real_hyphen_stays() -> None:
    assert rejoin_lines("the integ-", "ration of budgets") == "the integration of budgets"
    assert rejoin_lines("run by NHS-", "England staff") is None
    assert rejoin_lines("in 2017-", "18 the CCGs") is None
    assert page_paragraphs(["money for NHS-", "England and the integ-", "ration fund."]) == [
        "money for NHS-England and the integration fund."
    ]


def test_a_blank_line_or_a_short_line_ending_a_sentence_closes_a_paragraph() -> None:
    lines = [
        "Integrated care systems bring together the NHS and councils to plan and",
        "pay for services across their area.",
        "The report found that progress was slow in most areas of the country and",
        "that budgets were not pooled",
        "",
        "Summary",
    ]
    assert page_paragraphs(lines) == [
        "Integrated care systems bring together the NHS and councils to plan and pay for services across their area.",
        "The report found that progress was slow in most areas of the country and that budgets were not pooled",
        "Summary",
    ]


def test_title_and_date_from_metadata_ignore_placeholders() -> None:
    assert metadata_title("  Introducing   Integrated Care Systems ") == "Introducing Integrated Care Systems"
    assert metadata_title("Microsoft Word - ICS draft 3.docx") is None
    assert metadata_title("Untitled") is None
    assert metadata_title(None) is None
    assert pdf_date("D:20220617093000+01'00'") == dt.date(2022, 6, 17)
    assert pdf_date(dt.datetime(2021, 3, 4, 9, 0)) == dt.date(2021, 3, 4)
    assert pdf_date("D:2022") == dt.date(2022, 1, 1)
    assert pdf_date("yesterday") is None
    assert pdf_date("D:20221345") is None


def test_the_first_page_title_is_its_first_headline() -> None:
    paragraphs = ["Introducing Integrated Care Systems", "Integrated care systems bring the NHS together."]
    assert first_page_title(paragraphs) == "Introducing Integrated Care Systems"
    assert first_page_title(["17 June 2022", "It was a long report about many things."]) is None
