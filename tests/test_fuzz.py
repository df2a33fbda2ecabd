"""Fuzzing: arbitrary and hostile text through the cleaner, the analyzer, the search and the Slack
rendering. Every property is one a user would notice: an excerpt that is not in the article, a
citation missing, a message Slack refuses, a "<!channel>" in an article that pings a channel, a
word a search cannot find because of an invisible character, a bot stuck on a huge question or file.

Time bounds here are safety bounds, not speed measurements: many times what the work takes on a
loaded two-core machine, far less than what the quadratic code they guard against took.
"""

from __future__ import annotations

import json
import logging
import random
import re
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot import clean, logs, reply
from bot.characters import printable
from bot.corpus import MAX_FILE_BYTES, load
from bot.models import Answer, ReloadReport
from bot.passages import MAX_CHARS, MAX_SENTENCE_CHARS
from bot.question import MAX_QUESTION_CHARS, admin_verb, is_too_long, question_text
from bot.search import Index
from bot.text import Analyzer
from tests.conftest import KNOWLEDGE
from tests.mrkdwn import BARE_ENTITY, assert_inert, text_objects, unescape

BOT = "U0BOT1"
SHARER = "U0SHARE9"
QID = "0123456789abcdef0123456789abcdef"
FLAGSHIP = "How many CCGs overspent in 2017-18?"
SAFE_URL = "https://www.nao.org.uk/report?a=1&b=2"
BOUND = 10.0  # seconds: a safety bound for work that takes well under one

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- hostile text ----------------------------------------------------------------------------------

# Slack markup and mrkdwn, entities and the characters Slack's escaping is about.
MARKUP = [
    *("<!channel>", "<!here>", "<!everyone>", "<@U123ABC>", "<#C123|general>", "<http://x.example|y>"),
    *("<https://evil.example/a?b=1&c=2|click>", "<!subteam^S1|@team>", "<!date^1392734382^{date}|Feb 18>"),
    *("&amp;", "&lt;b&gt;", "&", "R&D", "a<b", "c>d", "<", ">", "|", "@here", "#general", "*bold*", "_it_"),
    *("~strike~", "`code`", "```", "> quote", "*", "**", "[link](http://x.org)", "![img](a.png)"),
]  # fmt: skip
# Unicode a reader does not see or that renders oddly: astral, joiners, combining marks, RTL,
# direction overrides, zero-width and format characters, control characters, odd spaces.
UNICODE = [
    *("𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "😀", "👩\u200d⚕\ufe0f", "cafe\u0301", "\u0301", "مجلس المدينة", "שלום", "\u202eevil"),
    *("over\u00adspent", "zero\u200bwidth", "\ufeffBOM", "\u2066isolate\u2069", "bell\x07", "esc\x1b[31m"),
    *("del\x7f", "c1\x9b", "tab\there", "nbsp\u00a0x", "\u3000", "\u2028", "\u2029", "\x0b", "\x0c", "\x85"),
    *("\x1c", "ﬁnance", "Ⅻ", "½", "²", "٣٤", "İstanbul", "Straße"),
]  # fmt: skip
LINE_BREAKS = ["\n", "\r", "\r\n", "\n\n", "\r\r", "\n \n"]
HOSTILE = MARKUP + UNICODE
# Words of the shipped articles' subject, none of which chrome patterns or comment cuts react to.
VOCAB = [
    *("council", "councils", "budget", "budgets", "NHS", "CCGs", "ICSs", "commissioning", "integrated"),
    *("care", "2017-18", "£5.7bn", "36%", "officials", "services", "funding", "reform", "local", "health"),
    *("plans", "devolved", "savings", "report", "audit", "trusts", "groups", "pooled", "social", "adult"),
    *("children", "review", "powers", "Integrated Care Systems (ICSs)", "thirty-six per cent", "overspent"),
]  # fmt: skip

PIECES = st.one_of(st.sampled_from(HOSTILE + VOCAB), st.text(max_size=8))
ARBITRARY = st.lists(st.tuples(PIECES, st.sampled_from([" ", "", "  ", *LINE_BREAKS])), max_size=40).map(
    lambda parts: "".join(p + gap for p, gap in parts)
)
ODD = ("Cc", "Cf", "Cs", "Zl", "Zp")


def reader_view(text: str) -> list[str]:
    """The words a reader sees in `text`: control characters and odd spaces are spaces, invisible
    format characters nothing, NFC. Written out here, independently of bot/clean.py."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        out.append("" if category in ("Cf", "Cs") else " " if category in ("Cc", "Zs", "Zl", "Zp") else ch)
    return unicodedata.normalize("NFC", "".join(out)).split()


def is_subsequence(part: Sequence[str], whole: Sequence[str]) -> bool:
    it = iter(whole)
    return all(any(p == w for w in it) for p in part)


def assert_one_visible_line(paragraph: str) -> None:
    assert paragraph and paragraph == " ".join(paragraph.split()), repr(paragraph)
    assert all(c == " " or unicodedata.category(c) not in (*ODD, "Zs") for c in paragraph), repr(paragraph)
    assert unicodedata.is_normalized("NFC", paragraph)


# --- Slack checks ------------------------------------------------------------------------------------

LINK_OR_MENTION = re.compile(r"<([^<>]*)>")


def assert_only_our_markup(text: str, urls: AbstractSet[str], users: AbstractSet[str]) -> None:
    """The only `<...>` in `text` are the bot's own: a link to an article's url (one of `urls`)
    around an escaped label, or a mention of a user who shared the answer (one of `users`).
    Everything else, from articles or users, is escaped."""
    for found in LINK_OR_MENTION.finditer(text):
        inner = found[1]
        if inner.startswith("@"):
            assert inner[1:] in users, found[0]
            continue
        url, bar, label = inner.partition("|")
        assert bar and unescape(url) in urls and label, found[0]
        assert not BARE_ENTITY.search(url) and not BARE_ENTITY.search(label), found[0]
    assert_inert(LINK_OR_MENTION.sub("", text))


def check_message(
    message: reply.Message, urls: AbstractSet[str] = frozenset(), users: AbstractSet[str] = frozenset()
) -> None:
    """Slack's documented limits (as bot/reply.py states them) on what would be posted, and escaping."""
    json.dumps(message.kwargs(), ensure_ascii=False).encode("utf-8")  # Slack takes UTF-8 JSON
    assert 0 < len(message.text) <= reply.MAX_FALLBACK <= 40_000
    assert_inert(message.text)  # the fallback (notifications) carries no markup at all
    assert 1 <= len(message.blocks) <= reply.MAX_BLOCKS == 50
    ids = [b["block_id"] for b in message.blocks if "block_id" in b]
    assert len(ids) == len(set(ids)) and all(len(i) <= 255 for i in ids)
    for block in message.blocks:
        assert Block.parse(block).to_dict() == block  # slack_sdk's own per-field checks pass
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        elif block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(0 < len(e["text"]) <= 3000 for e in block["elements"])
        elif block["type"] == "actions":
            assert 1 <= len(block["elements"]) <= 25
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= 75 and len(button["value"]) <= 2000
    texts = list(text_objects(message.blocks))
    assert sum(len(t["text"]) for t in texts) <= reply.TEXT_BUDGET
    for t in texts:
        if t["type"] == "mrkdwn":
            assert t.get("verbatim") is True  # Slack does not turn a bare "@here" into a ping
            assert_only_our_markup(t["text"], urls, users)


def sections(message: reply.Message) -> list[str]:
    return [b["text"]["text"] for b in message.blocks if b["type"] == "section"]


def citations(message: reply.Message) -> list[str]:
    return [
        e["text"] for b in message.blocks if b["type"] == "context" for e in b["elements"] if "passage" in e["text"]
    ]


def check_answer(answer: Answer, message: reply.Message, index: Index) -> None:
    """What the user reads is the engine's answer: verbatim excerpts, each cited; or, when the
    engine abstains, a message that says so and what was searched for."""
    assert len(answer.hits) <= 3
    for hit in answer.hits:
        passage = hit.passage.text
        core = hit.excerpt.removeprefix("…").removesuffix("…")
        assert core and core in passage, (hit.excerpt[:100], passage[:100])
        assert len(hit.excerpt) <= MAX_CHARS
        assert all(0 <= a < b <= len(hit.excerpt) for a, b in hit.highlights)
        assert hit.relevance >= index.min_relevance
    if answer.abstained:
        first = sections(message)[0]
        heading = answer.nothing_found()  # "... answers that.", or "... mentions PFI." (a missing subject)
        assert heading.startswith("Nothing in the knowledge base")
        assert first.startswith(f"*{reply.escape(heading)}*\nSearched for: ")
        assert message.text.startswith(heading)
        if not answer.terms:
            assert "(no searchable words)" in first
        return
    shown = sections(message)
    cited = citations(message)
    assert 1 <= len(shown) == len(cited) <= len(answer.hits)
    for rank, (text, citation, hit) in enumerate(zip(shown, cited, answer.hits, strict=False), answer.offset + 1):
        seen = unescape(text.replace("*", ""))
        assert hit.answer is not None and 0 <= hit.answer[0] < hit.answer[1] <= len(hit.excerpt)
        expected = hit.excerpt[hit.answer[0] : hit.answer[1]].replace("*", "")  # the answer, verbatim
        part = seen.removeprefix(f"{rank}. ")  # the answer, or a run of its words between ellipses (bot/display.py)
        assert part == expected or (part.strip("…") and part.strip("…") in expected), (seen[:200], expected[:200])
        assert unescape(citation).endswith(f"passage {hit.passage.number} · {hit.strength_note()}"), citation


def respond(raw: str, index: Index, **options: Any) -> tuple[str, Answer | None, reply.Message]:
    """What the app does with a Slack message (bot/app.py): the question, then the usage message,
    the too-long message or the rendered answer."""
    question = question_text(raw, BOT)
    if not question:
        return question, None, reply.usage_message()
    if is_too_long(question):
        return question, None, reply.too_long_message(len(question), MAX_QUESTION_CHARS)
    answer = index.search(question, top=3)
    titles = [a.title for a in index.articles]
    return question, answer, reply.answer_message(answer, QID, titles=titles, **options)


# --- the cleaner -------------------------------------------------------------------------------------


@FUZZ
@given(text=ARBITRARY, markdown=st.booleans())
@example(text="a\x00b\rc\r\nd\x85e\u2028f\u200bg\ud800h cafe\u0301 \u202eRLO", markdown=False)
@example(text="**a [b ![c]( *d <!channel> `e", markdown=True)
def test_cleaned_text_is_visible_one_line_paragraphs(text: str, markdown: bool) -> None:
    """Whatever a scraped page holds, what the cleaner keeps is text a reader sees: no control,
    format or direction-override characters left to reach Slack or a terminal, one line per
    paragraph with single spaces, NFC (so it matches a question normalised the same way)."""
    paragraphs = clean.split_paragraphs(text, markdown=markdown)
    for paragraph in paragraphs:
        assert_one_visible_line(paragraph)
    cleaned = clean.clean(paragraphs)
    for paragraph in [*cleaned.paragraphs, *([cleaned.title] if cleaned.title else [])]:
        assert_one_visible_line(paragraph)


@FUZZ
@given(text=ARBITRARY, copies=st.lists(st.sampled_from(["nav", "copy", "other"]), max_size=3))
def test_cleaning_keeps_words_in_order_and_invents_none(text: str, copies: list[str]) -> None:
    """Splitting keeps every word the reader sees, in order; cleaning only drops paragraphs (chrome,
    comments, the headline and dateline it takes out), never adds, changes or reorders one."""
    paragraphs = clean.split_paragraphs(text)
    assert [w for p in paragraphs for w in p.split()] == reader_view(text)
    others = [["Read our latest spotlight on adult social care." if c == "nav" else c * 3] for c in copies]
    shared = clean.shared_text([paragraphs, *others])
    cleaned = clean.clean(paragraphs, shared.chrome)
    assert is_subsequence(cleaned.paragraphs, paragraphs)
    assert cleaned.title is None or cleaned.title in paragraphs


def sentence(draw: st.DrawFn, words: int, hostile: Sequence[str]) -> str:
    """Prose: `words` words of policy vocabulary with hostile pieces among them, ending in a full stop."""
    parts = [draw(st.sampled_from(VOCAB)) for _ in range(words)]
    for piece in draw(st.lists(st.sampled_from(hostile), max_size=6)):
        parts.insert(draw(st.integers(1, len(parts))), piece)
    return "The " + " ".join(parts) + "."


@st.composite
def hostile_article(draw: st.DrawFn, marker: str = "") -> tuple[str, str, list[str]]:
    """A page: a headline and prose paragraphs, hostile markup and characters throughout; the
    last paragraph ends with a sentence naming `marker`, if one is given."""
    pieces = draw(st.lists(st.sampled_from(VOCAB + HOSTILE), max_size=4))
    headline = " ".join(["Zorbling", *pieces, "budgets"])  # 2-25 words, ends like a headline
    paragraphs = [sentence(draw, draw(st.integers(20, 40)), HOSTILE) for _ in range(draw(st.integers(2, 4)))]
    if marker:
        paragraphs[-1] += f" Officials said {marker} {draw(st.sampled_from(HOSTILE))} was agreed."
    gap = draw(st.sampled_from(["\n\n", "\r\n\r\n", "\r\r", "\n\u00a0\n"]))
    return gap.join([headline, *paragraphs]), headline, paragraphs


@FUZZ
@given(hostile_article())
def test_article_text_with_markup_and_odd_characters_is_kept_verbatim(page: tuple[str, str, list[str]]) -> None:
    """Slack markup, entities and odd Unicode in an article are content: the cleaner keeps the
    headline and every prose paragraph as the reader sees them (escaping is the renderer's job)."""
    text, headline, paragraphs = page
    cleaned = clean.clean(clean.split_paragraphs(text))
    assert cleaned.title == " ".join(reader_view(headline))
    assert list(cleaned.paragraphs) == [" ".join(reader_view(p)) for p in paragraphs]


def billion_laughs(levels: int) -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + f"\ntitle: *{chr(96 + levels)}\npublished: *{chr(96 + levels)}\n"


@pytest.mark.parametrize(
    ("front", "warning"),
    [
        (billion_laughs(9), "front matter 'title' is not a single value; ignored it"),
        ("title: ok\nnotes: [" + "1, " * 20_000 + "1]\n", "front matter is longer than 10,000 characters; ignored it"),
        ('title: "Bell\\a and \\e[31m <!channel> cafe\\u0301"\n', None),
    ],
    ids=["alias-bomb", "huge", "escapes"],
)
def test_hostile_front_matter_is_reported_and_bounded(front: str, warning: str | None) -> None:
    """Front matter that YAML could blow up to gigabytes (a billion-laughs alias bomb), or that is
    far too long to be front matter, is ignored with a warning; the body is still read."""
    started = time.perf_counter()
    matter, body = clean.split_front_matter(f"---\n{front}---\nThe body text.")
    assert time.perf_counter() - started < BOUND
    assert body == "The body text."
    if warning:
        assert warning in matter.warnings and matter.title is None
    else:
        assert matter.title == "Bell and [31m <!channel> café" and not matter.warnings


@pytest.mark.parametrize("unit", ["[a ", "*a ", "![a](", "[a](", "](a ", "a_ "])
def test_unclosed_markdown_on_a_megabyte_line_is_read_in_bounded_time(unit: str) -> None:
    """Unclosed brackets or stars are text, not markup: nothing is eaten. The old patterns read on
    from each "[" or "*" to the end of the line: 8-17 s for a 60 KB line, quadratic beyond."""
    text = unit * (1_000_000 // len(unit))
    started = time.perf_counter()
    paragraphs = clean.split_paragraphs(text, markdown=True)
    assert time.perf_counter() - started < BOUND
    assert paragraphs == [" ".join(text.split())]


def test_a_megabyte_of_hard_wrapped_lines_is_read_in_bounded_time() -> None:
    """Lines without a sentence end are joined into one paragraph; the old code copied the growing
    paragraph at every line and searched all of it for a sentence end (a minute for 1 MB)."""
    text = "\n".join(f"row {i} of the appendix table on council budgets and spending" for i in range(16_000))
    started = time.perf_counter()
    paragraphs = clean.split_paragraphs(text)
    assert time.perf_counter() - started < BOUND
    assert paragraphs == [" ".join(text.split())]


# --- the analyzer ------------------------------------------------------------------------------------

ANALYZERS = {
    "plain": Analyzer(),
    "corpus": Analyzer.for_corpus(
        ["The new Integrated Care Systems (ICSs) said NHS England (NHSE) agreed.", "Councils face CUTS; cuts hit."]
    ),
}


@pytest.mark.parametrize("name", ANALYZERS)
@FUZZ
@given(text=ARBITRARY, data=st.data())
def test_analyzer_spans_point_at_text_that_gives_their_terms(name: str, text: str, data: st.DataObject) -> None:
    """On any text, each term's span lies inside the text and that text alone gives the term, so a
    highlight always sits on the words that matched; `terms` and `highlights` agree with `spans`."""
    analyzer = ANALYZERS[name]
    spans = analyzer.spans(text)
    assert analyzer.terms(text) == [s.text for s in spans]
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
        assert span.text and not any(c.isspace() for c in span.text)
        assert span.text in analyzer.terms(text[span.start : span.end]), (span, text[span.start : span.end])
    wanted = data.draw(st.sets(st.sampled_from(sorted({s.text for s in spans} | {"ics", "council", "%"}))))
    assert analyzer.highlights(text, wanted) == [(s.start, s.end) for s in spans if s.text in wanted]


def test_analyzer_takes_bounded_time_over_100000_odd_characters() -> None:
    """100,000 characters of astral, combining, RTL, control characters and markup are analysed
    completely (terms from the end of the text too) within the bound."""
    rng = random.Random(6)
    pieces = [*HOSTILE, *VOCAB, " ", "\n"]
    text = "".join(rng.choice(pieces) + rng.choice([" ", ""]) for _ in range(30_000))[:99_990] + " NHS budget"
    analyzer = ANALYZERS["corpus"]
    started = time.perf_counter()
    spans = analyzer.spans(text)
    assert time.perf_counter() - started < BOUND
    assert [s.text for s in spans[-2:]] == ["nhs", "budget"] and spans[-1].end == len(text)


# --- search and rendering on the real knowledge base ----------------------------------------------

CORPUS_WORDS = sorted({w for path in KNOWLEDGE.glob("0*.txt") for w in path.read_text(encoding="utf-8").split()})
QUESTION_PIECES = st.one_of(st.sampled_from(CORPUS_WORDS), st.sampled_from(HOSTILE), st.text(max_size=10))
QUESTIONS = st.lists(QUESTION_PIECES, max_size=25).map(" ".join)


@FUZZ
@given(raw=QUESTIONS, ephemeral=st.booleans(), shared=st.booleans())
@example(raw=f"<@{BOT}> {FLAGSHIP} <!channel> &amp; <https://evil.example|click>", ephemeral=True, shared=True)
@example(raw="<!here> weather in Leeds? \u202e<@U123>", ephemeral=False, shared=False)
def test_any_question_gets_cited_verbatim_excerpts_or_says_it_found_nothing(
    index: Index, raw: str, ephemeral: bool, shared: bool
) -> None:
    """Whatever is typed, the reply is verbatim excerpts with citations or a clear "nothing found",
    within Slack's limits, and nothing the user typed or an article says becomes a ping or a link."""
    sharer = SHARER if shared else None
    question, answer, message = respond(raw, index, ephemeral=ephemeral, shared_by=sharer)
    check_message(message, users={SHARER})
    if answer is not None:
        check_answer(answer, message, index)
        if (ephemeral or shared) and question:
            intro = [e["text"] for e in message.blocks[0]["elements"]]
            assert f"*Question:* {reply.escape(question)}"[:200] in "\n".join(intro)  # what was asked, inert


# --- hostile articles -------------------------------------------------------------------------------

NAMES = ["<!channel> & co.txt", "a|b <@U1>.md", "\u202eevil.txt", "plain.txt", "R&D *bold*.txt", "ﬁle 😀.md"]
URLS = [SAFE_URL, "javascript:alert(1)", "https://x.org/<!channel>", "https://x.org/a|b", "https://x.org/a b", None]


@st.composite
def knowledge_folder(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    """1-3 articles: (file name, text, marker word only that article contains). The article may
    write its marker decomposed, or with a soft hyphen, zero-width space, word joiner or BOM inside."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    articles = []
    for i, name in enumerate(names):
        marker = f"Quorbl\u00e9x{'abc'[i]}"  # as a question types it, and as the cleaned article has it
        hidden = [marker[:4] + c + marker[4:] for c in ("\u00ad", "\u200b", "\u2060", "\ufeff")]
        written = draw(st.sampled_from([marker, unicodedata.normalize("NFD", marker), *hidden]))
        text, _, _ = draw(hostile_article(written))
        if draw(st.booleans()):
            fields = {
                "title": draw(st.sampled_from(HOSTILE)) + " " + draw(st.sampled_from(VOCAB)),
                "url": draw(st.sampled_from(URLS)),
                "publisher": draw(st.sampled_from(HOSTILE)),
                "published": draw(st.sampled_from(["2017-11-03", "3 Nov 17", "<!here>", "[1, 2]"])),
            }
            text = "---\n" + yaml.safe_dump(fields, allow_unicode=False) + "---\n" + text
        articles.append((name, text, marker))
    return articles


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(articles=knowledge_folder(), data=st.data())
def test_hostile_articles_are_answered_cited_and_escaped(
    articles: list[tuple[str, str, str]], data: st.DataObject
) -> None:
    """Articles full of Slack markup, entities, control characters and odd Unicode (in their text,
    titles, urls, publishers and file names) are indexed; a question with an article's own word
    finds that article; the answer cites it; and nothing from it becomes a ping, a link (except its
    valid url around its title) or breaks Slack's limits. Load problems are reported in words."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name, text, _ in articles:
            (folder / name).write_text(text, encoding="utf-8")
        index = Index(load(folder))
    assert all(p.source and p.message.strip() for p in index.problems)
    for name, _, marker in articles:
        raw = data.draw(st.sampled_from([f"What about {marker}?", f"<@{BOT}> {marker.lower()} <!channel> &amp;"]))
        sharer = data.draw(st.sampled_from([None, SHARER, "U1> <!channel"]))
        question, answer, message = respond(raw, index, shared_by=sharer, ephemeral=data.draw(st.booleans()))
        check_message(message, {SAFE_URL}, {SHARER})
        assert answer is not None and not answer.abstained, question
        check_answer(answer, message, index)
        first = answer.hits[0]
        assert first.passage.article.source == printable(name) and marker in first.excerpt
        citation = citations(message)[0]
        url = first.passage.article.url
        assert citation.startswith(f"<{reply.escape(SAFE_URL)}|") == (url == SAFE_URL)
    sources = tuple(a.source for a in index.articles)
    report = ReloadReport(ok=True, added=sources, articles=len(sources), passages=len(index.passages))
    check_message(reply.reload_message(report.model_copy(update={"problems": index.problems})))


# --- hostile file names and admin commands --------------------------------------------------------

# What a file system allows in a name: anything but "/" and NUL, at most 255 bytes.
FILE_NAMES = (
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]), min_size=1, max_size=40)
    .filter(lambda n: not n.startswith((".", "_")) and len(n.encode()) <= 240)  # hidden names are not read
    .map(lambda n: n + st_suffix(n))
)


def st_suffix(name: str) -> str:
    return "" if name.lower().endswith((".txt", ".md")) else ".txt"


def assert_one_printable_line(text: str) -> None:
    assert "\n" not in text and "\r" not in text
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in text), ascii(text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(FILE_NAMES, min_size=1, max_size=4, unique_by=lambda n: n.casefold()))
def test_any_file_name_is_shown_as_one_printable_line_everywhere(names: list[str]) -> None:
    """Whatever a file is called (newlines, ESC, direction overrides, Slack markup), its article is
    loaded, and its name reaches citations, reload reports, problems and log lines as one printable
    line, with the invisible characters written as escapes."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for i, name in enumerate(names):
            (folder / name).write_text(
                f"Zorbling budgets {i}\n\nThe council agreed the Quorbléxa plan {i} in {name!r}.\n"
            )
        index = Index(load(folder))
    shown = [a.source for a in index.articles] + [p.source for p in index.problems]
    assert sorted(a.source for a in index.articles) == sorted(
        printable(n) for n in names if not n.startswith((".", "_"))
    )
    for source in shown:
        assert_one_printable_line(source)
    report = ReloadReport(ok=True, added=tuple(a.source for a in index.articles), articles=len(index.articles))
    message = reply.reload_message(report.model_copy(update={"problems": index.problems}))
    check_message(message)
    for text in text_objects(message.blocks):
        for line in unescape(text["text"]).splitlines():
            assert_one_printable_line(line)
    line = logs.formatter("text").format(logs_record("knowledge folder changed (%s)", ", ".join(names)))
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line


def logs_record(message: str, *args: object) -> logging.LogRecord:
    """A log record as the bot's log handler sees it, after its filter."""
    record = logging.LogRecord("bot.watch", logging.INFO, __file__, 1, message, args, None)
    logs.Shown().filter(record)
    return record


@FUZZ
@given(text=st.text(max_size=300))
def test_any_admin_command_text_is_logged_and_stored_as_one_short_printable_word(text: str) -> None:
    verb = admin_verb(text)
    assert 1 <= len(verb) <= 50  # "help" when there is no word
    assert_one_printable_line(verb)
    assert " " not in verb
    line = logs.formatter("text").format(logs_record("refused /ask-admin %s from %s", verb, "U123"))
    assert len(line.splitlines()) == 1


# --- a 100,000-character question ---------------------------------------------------------------------


def _long_questions() -> dict[str, str]:
    rng = random.Random(4)
    n = 100_000
    return {
        "one word repeated": ("CCGs " * n)[:n],
        "random words": " ".join(rng.choice(CORPUS_WORDS) for _ in range(n // 4))[:n],
        "no spaces": ("overspent" * n)[:n],
        "markup": ("<@U123> &amp; <https://x.org|CCGs> <!channel> &lt;b&gt; " * n)[:n],
        "unicode": "".join(rng.choice(HOSTILE) for _ in range(n))[:n],
        "only pings": ("<!channel> <!here> " * (n // 19)).ljust(n),
    }


@pytest.mark.parametrize(("shape", "raw"), _long_questions().items(), ids=list(_long_questions()))
def test_a_100000_character_question_gets_a_clear_reply_in_bounded_time(index: Index, shape: str, raw: str) -> None:
    """A 100,000-character message is answered quickly with "too long" (and how long is too long),
    or with the usage message when nothing is left to search; searched anyway, it is still
    answered within the bound, with an answer Slack accepts."""
    assert len(raw) == 100_000
    started = time.perf_counter()
    question, answer, message = respond(raw, index)
    assert time.perf_counter() - started < BOUND
    check_message(message)
    assert answer is None
    if question:
        assert is_too_long(question)
        assert f"That question is {len(question):,} characters long and I can search at most 2,000" in message.text
    else:
        assert shape == "only pings" and message == reply.usage_message()
    started = time.perf_counter()
    direct = index.search(raw)
    assert time.perf_counter() - started < BOUND
    rendered = reply.answer_message(direct, QID, titles=[a.title for a in index.articles])
    check_message(rendered)
    check_answer(direct, rendered, index)


# --- a 10 MB article ------------------------------------------------------------------------------------


def ten_megabytes() -> str:
    """An article of 10,000,000 characters in the shapes that strain the loader: prose, hard-wrapped
    lines without a sentence end, one line of words without punctuation, hostile characters."""
    prose = (
        "Huge appendix on Zanzibarite budgets\n\n"
        "The Zanzibarite review found that councils pooled £213m with NHS trusts in 2019-20, officials said. "
        "Ministers said the savings would be reinvested in adult social care services across the region.\n\n"
    )
    wrapped = "\n".join(f"row {i} of the appendix table on council budgets and spending" for i in range(60_000))
    one_line = " ".join(f"cell{i} quarterly figure" for i in range(100_000))
    rng = random.Random(10)
    hostile = "\n".join(" ".join(rng.choice(HOSTILE) for _ in range(12)) for _ in range(20_000))
    text = "\n\n".join([prose * 10_000, wrapped, one_line, hostile])
    assert len(text) > 10_000_000
    return text[:10_000_000]


def test_a_10_megabyte_article_is_indexed_in_bounded_time_and_the_bot_still_answers(tmp_path: Path) -> None:
    """A 10 MB article next to the real ones is indexed within the bound (the old loader was still
    joining 10 MB of hard-wrapped lines after two minutes); its text without sentence ends is cut
    into passage-sized pieces (kept whole, one made a 10 MB passage that took two seconds to
    highlight at every question it matched), and the admin is told so in words; a file over the
    size limit is skipped, with the reason; the real articles still answer, and so does the huge
    one, each search within the bound."""
    for path in KNOWLEDGE.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    huge = ten_megabytes()
    assert len(huge) == 10_000_000
    (tmp_path / "huge.txt").write_text(huge, encoding="utf-8")
    with (tmp_path / "too big.txt").open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: the loader looks at the size before reading
    started = time.perf_counter()
    index = Index(load(tmp_path))
    assert time.perf_counter() - started < 180, "10 MB took minutes"

    problems = {p.source: p for p in index.problems}
    assert (
        problems["too big.txt"].message == "larger than 20 MB (the MAX_FILE_MB setting); split it, or raise MAX_FILE_MB"
    )
    assert problems["too big.txt"].skipped
    assert re.fullmatch(
        r"\d+ runs of over 5,000 characters without a sentence end \(a table\?\), cut between words into passages",
        problems["huge.txt"].message,
    )
    assert not problems["huge.txt"].skipped
    assert index.passages.counts()["huge.txt"] > 5_000
    assert max(len(index.passages.text_of(i)) for i in range(len(index.passages))) <= MAX_SENTENCE_CHARS
    report = ReloadReport(
        ok=True,
        added=("huge.txt",),
        articles=len(index.articles),
        passages=len(index.passages),
        problems=index.problems,
    )
    words = "\n".join(sections(reply.reload_message(report)))
    assert "huge.txt (loaded with a warning): " in words and "runs of over 5,000 characters without a" in words
    assert "too big.txt (skipped): larger than 20 MB" in words

    for question, source, phrase in [
        (FLAGSHIP, "000_eb80a55c94ec531c.txt", "75 of 207 CCGs"),
        ("What did the Zanzibarite review find?", "huge.txt", "Zanzibarite review"),
        ("cell99999 quarterly figure", "huge.txt", "cell99999"),
        ("row 59999 appendix table", "huge.txt", "row 59999"),
    ]:
        started = time.perf_counter()
        answer = index.search(question)
        message = reply.answer_message(answer, QID, titles=[a.title for a in index.articles])
        assert time.perf_counter() - started < BOUND
        assert answer.hits and answer.hits[0].passage.article.source == source, question
        assert phrase in answer.hits[0].excerpt
        check_message(message)
        check_answer(answer, message, index)
