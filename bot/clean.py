"""Scraped page text -> the article: headline, date and body paragraphs. Pure functions.

Scraped news pages arrive with the site around them: cookie and browser banners, navigation
teasers, sign-up prompts, "Did you enjoy this article?" and reader comments. Reader comments
are not the article and must never be cited as if they were, so everything from a comments
heading onwards is dropped. Paragraphs are read as a reader sees them (`visible`): without
control or invisible format characters, in NFC. The rules, in the order `clean` applies them:

1. a paragraph found verbatim in two or more articles is site chrome (`shared_text`);
2. paragraphs matching a chrome pattern are dropped (`is_chrome`);
3. the page is cut at the start of its reader comments (`cut_comments`);
4. the headline is the first headline-like paragraph followed by article prose; anything before
   it is page furniture; a date line next to it is the publication date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from bot.characters import fold, visible

FRONT_MATTER_KEYS = ("title", "url", "published", "publisher")

# --- front matter -------------------------------------------------------------------------

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
# Four 'key: value' lines take a few hundred characters; YAML is parsed in Python at about 70 KB a
# second, so a front matter block this long is a mistake (or a whole article between '---' lines).
MAX_FRONT_MATTER = 10_000


@dataclass(frozen=True)
class FrontMatter:
    title: str | None = None
    url: str | None = None
    published: dt.date | None = None
    publisher: str | None = None
    warnings: tuple[str, ...] = ()


def split_front_matter(text: str) -> tuple[FrontMatter, str]:
    """Separate an optional YAML block between '---' lines from the text after it."""
    match = _FRONT.match(text)
    if not match:
        return FrontMatter(), text
    body = text[match.end() :]
    if len(match.group(1)) > MAX_FRONT_MATTER:
        return FrontMatter(warnings=(f"front matter is longer than {MAX_FRONT_MATTER:,} characters; ignored it",)), body
    try:
        data: Any = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 2})" if where else ""
        return FrontMatter(warnings=(f"front matter is not valid YAML{line}; ignored it",)), body
    except ValueError as exc:  # a date YAML recognises but cannot be: "published: 2017-13-45"
        return FrontMatter(warnings=(f"front matter has a value that cannot be read ({exc}); ignored it",)), body
    except RecursionError:  # "[[[[…]]]]" nested deeper than the parser can go
        return FrontMatter(warnings=("front matter is nested too deeply to read; ignored it",)), body
    if data is None:
        return FrontMatter(), body
    if not isinstance(data, dict):
        return FrontMatter(warnings=("front matter is not a list of 'key: value' lines; ignored it",)), body
    return front_matter(data), body


def front_matter(data: dict[Any, Any], what: str = "front matter") -> FrontMatter:
    """Title, url, publisher and date from parsed YAML `key: value` pairs (front matter, or an
    entry of the metadata sidecar, bot/sidecar.py); what cannot be used is a warning."""
    data = dict(data)
    warnings = [
        f"unknown {what} key {key!r} ignored (known: {', '.join(FRONT_MATTER_KEYS)})"
        for key in data
        if key not in FRONT_MATTER_KEYS
    ]
    for key in ("title", "url", "publisher", "published"):
        if not isinstance(data.get(key), _SCALARS):
            warnings.append(f"{what} {key!r} is not a single value; ignored it")
            data[key] = None
    text_fields = {k: _text_field(data.get(k)) for k in ("title", "url", "publisher")}
    published = data.get("published")
    date: dt.date | None = None
    if isinstance(published, dt.datetime):
        date = published.date()
    elif isinstance(published, dt.date):
        date = published
    elif published is not None:
        date = parse_date(str(published))
        if date is None:
            warnings.append(f"{what} 'published: {published}' is not a date I can read; use 2017-11-03")
    return FrontMatter(published=date, warnings=tuple(warnings), **text_fields)


# A list or mapping is no title, and printing one can be ruinous: YAML aliases let a few lines
# nest a list a billion items deep.
_SCALARS = (str, int, float, dt.date, type(None))


def _text_field(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(visible(str(value)).split())
    return text or None


# --- paragraphs ---------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?:;\"'\u201d\u2019)\]…]$")
_PROSE_END = re.compile(r"[.!?…:][\"'\u201d\u2019)\]]*$")
_BULLET = re.compile(r"^\s*(?:[•*\-\u2022\u25aa\u25cf]|\d+[.)])\s+")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")


def split_paragraphs(text: str, *, markdown: bool = False) -> list[str]:
    """Blank lines separate blocks; inside a block a line break is a paragraph break unless
    the line is visibly hard-wrapped prose (long, no sentence end, or continued in lower case).
    Paragraphs are `visible` text on one line, with single spaces. Linear in the text's length:
    a paragraph's lines are joined once, at its end, and only its last line is looked at."""
    if markdown:
        text = markdown_to_text(text)
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines: list[str] = []  # of the paragraph being read
        length = 0  # of the paragraph being read, joined
        for raw in block.split("\n"):
            shown = visible(raw)
            line = " ".join(shown.split())
            if not line:
                continue
            if lines and _continues(lines[-1], length, shown):
                lines.append(line)
                length += 1 + len(line)
            else:
                if lines:
                    paragraphs.append(" ".join(lines))
                lines, length = [line], len(line)
        if lines:
            paragraphs.append(" ".join(lines))
    return paragraphs


def _continues(last_line: str, length: int, raw_next: str) -> bool:
    """Whether `raw_next` continues the paragraph of `length` characters ending with `last_line`."""
    if _BULLET.match(raw_next) or _MD_HEADING.match(raw_next):
        return False
    nxt = raw_next.strip()
    if _SENTENCE_END.search(last_line):
        return False
    return length >= 40 or nxt[:1].islower()


# No part of these patterns may run past the next bracket, parenthesis or '*' that could start
# another match: a line of 60,000 characters with many an unclosed "[" or "*" took seconds with
# `.+?` and `[^\]]+`, each attempt reading to the end of the line (quadratic).
_MD_IMAGE = re.compile(r"!\[[^\[\]]*\]\([^()]*\)")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\([^()]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)([^*]+?)(?<!\s)\*(?![\w*])")
_MD_CODE = re.compile(r"`([^`]*)`")


def markdown_to_text(text: str) -> str:
    """Strip the Markdown syntax a reader would not see: headings, links, emphasis, images."""
    out = []
    for line in text.split("\n"):
        line = _MD_HEADING.sub("", line)
        line = _MD_IMAGE.sub("", line)
        line = _MD_LINK.sub(r"\1", line)
        line = _MD_EMPHASIS.sub(lambda m: m.group(2) or m.group(3), line)
        line = _MD_CODE.sub(r"\1", line)
        if re.fullmatch(r"\s*([-*_])(\s*\1){2,}\s*", line):  # horizontal rule
            line = ""
        out.append(line)
    return "\n".join(out)


# --- chrome -------------------------------------------------------------------------------

_CHROME_PATTERNS = [
    # cookie and browser banners
    r"\bcookies?\b.*\b(agree|accept|enable|disabled|policy|consent|we use|use of|settings)\b",
    r"\b(agree|accept|consent)\b.*\bcookies?\b",
    r"^your browser\b",
    r"\b(upgrade to a newer version|another browser|browser is (no longer|not) supported)\b",
    r"\benable javascript\b",
    # sign-up and sign-in prompts
    r"^(sign up|signup|subscribe|register)\b.*\b(newsletter|inbox|email|updates|news|free|alerts?|bulletin)\b",
    r"\byou (must|need to) (sign in|log in|login|register|be logged in)\b",
    r"^(sign in|log in|login|register) to (comment|continue|read)\b",
    r"^(get|receive) (the latest|our)\b.*\b(inbox|newsletter|email)\b",
    # feedback, sharing and related-link furniture
    r"^(did you (enjoy|like|find) (this|the) (article|story|page)|was this (article|page|story) (useful|helpful))\b",
    r"^(see also|related (articles?|stories|content|links)|read more|more on this( story)?|most (read|popular)"
    r"|you (might|may) also like|recommended for you|further reading)\b",
    r"^(share|share this( article| story| page)?|print|email( this( article)?)?|tweet|follow us)$",
    r"^(unsuitable or offensive\??|report (this )?(comment|abuse)|reply|advertisement|advert)$",
    # image placeholders such as "Shelved 400px"
    r"^(\S+ )?\d+ ?px$",
]
_CHROME = re.compile("|".join(f"(?:{p})" for p in _CHROME_PATTERNS))
_LABEL = re.compile(r"^[A-Z][A-Z&' ]{1,24}$")  # "SPOTLIGHT", "NEWS ANALYSIS"

_COMMENTS_HEADING = re.compile(
    r"^(readers'? comments?|reader comments|comments?|\d+ comments?|have your say|leave a (comment|reply)"
    r"|add (a|your) comment|join the (discussion|conversation)|post a comment|what do you think\?)"
    r"\s*(\(\d+\))?:?$"
)
_COMMENT_MARKER = re.compile(r"^(unsuitable or offensive\??|report (this )?(comment|abuse))$")


def is_chrome(paragraph: str) -> bool:
    """Site furniture recognisable on its own: banners, prompts, labels, placeholders."""
    if len(paragraph) > 400:
        return False  # chrome is short; a long paragraph that mentions cookies is content
    if _LABEL.match(paragraph) and len(paragraph.split()) <= 3:
        return True
    return bool(_CHROME.search(fold(paragraph)))


def cut_comments(paragraphs: Sequence[str]) -> list[str]:
    """Everything from the reader-comments section onwards is dropped: from a comments heading,
    or from the first comment, recognised by the "report" link that follows each one."""
    cut = len(paragraphs)
    for i, p in enumerate(paragraphs):
        if _COMMENTS_HEADING.match(fold(p)):
            cut = i
            break
    for i, p in enumerate(paragraphs[:cut]):
        if _COMMENT_MARKER.match(fold(p)):
            # The comment is the run before its link; go back to the bullet that opens it.
            cut = max(i - 1, 0)
            for j in range(i - 1, max(i - 12, -1), -1):
                if _BULLET.match(paragraphs[j]):
                    cut = j
                    break
            break
    return list(paragraphs[:cut])


def paragraph_key(paragraph: str) -> str:
    return fold(paragraph)


@dataclass(frozen=True)
class SharedText:
    """What several documents have in common."""

    chrome: frozenset[str]  # paragraph keys found in two or more unrelated documents
    copies: tuple[tuple[int, int], ...]  # pairs of documents that are mostly the same text


def shared_text(documents: Sequence[Sequence[str]]) -> SharedText:
    """Find navigation and other chrome: paragraphs that appear in two or more documents.

    Two documents that share most of their text are copies of one article, not two pages of
    one site: what they share is content, so such pairs do not count as chrome.
    """
    holders: dict[str, set[int]] = defaultdict(set)
    words = [0] * len(documents)
    for i, doc in enumerate(documents):
        for p in doc:
            holders[paragraph_key(p)].add(i)
            words[i] += len(p.split())
    in_pair: Counter[tuple[int, int]] = Counter()
    for key, docs in holders.items():
        if len(docs) == 2:
            a, b = sorted(docs)
            in_pair[(a, b)] += len(key.split())
    copies = tuple(sorted(pair for pair, n in in_pair.items() if n > 0.5 * min(words[pair[0]], words[pair[1]])))
    copy_set = set(copies)
    chrome = frozenset(
        key
        for key, docs in holders.items()
        if len(docs) >= 3 or (len(docs) == 2 and tuple(sorted(docs)) not in copy_set)
    )
    return SharedText(chrome, copies)


# --- headline and date --------------------------------------------------------------------

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ]
    )
    for m in names
}  # fmt: skip
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?" \
         r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"  # fmt: skip
_DATE_FORMS = [
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+(\d{{4}}|\d{{2}})\b"), ("d", "m", "y")),
    (re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b"), ("m", "d", "y")),
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), ("y", "n", "d")),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b"), ("d", "n", "y")),
]
_DATELINE_NOISE = re.compile(
    r"\b(published|updated|posted|last updated|date|on|at|by|\d{1,2}[:.]\d{2}( ?[ap]m)?|gmt|bst)\b|[|,:\-]"
)


def parse_date(text: str) -> dt.date | None:
    """The first date in `text`: '3 Nov 17', '3 November 2017', 'November 3, 2017',
    '2017-11-03' or '03/11/2017' (day first, as in the UK)."""
    folded = fold(text)
    for pattern, order in _DATE_FORMS:
        match = pattern.search(folded)
        if not match:
            continue
        parts = dict(zip(order, match.groups(), strict=True))
        month = _MONTHS[parts["m"].rstrip(".")] if "m" in parts else int(parts["n"])
        year = int(parts["y"])
        if year < 100:
            year += 2000 if year < 70 else 1900
        try:
            return dt.date(year, month, int(parts["d"]))
        except ValueError:
            continue
    return None


def dateline(paragraph: str) -> dt.date | None:
    """The date if the paragraph is a dateline ('3 Nov 17', 'Published 3 November 2017')."""
    if len(paragraph) > 60:
        return None
    date = parse_date(paragraph)
    if date is None:
        return None
    rest = fold(paragraph)
    for pattern, _ in _DATE_FORMS:
        rest = pattern.sub(" ", rest)
    rest = _DATELINE_NOISE.sub(" ", rest)
    return date if len(rest.split()) <= 3 else None


def looks_like_headline(paragraph: str) -> bool:
    return _headline_shaped(paragraph) and dateline(paragraph) is None


def _headline_shaped(paragraph: str) -> bool:
    n = len(paragraph.split())
    return 2 <= n <= 25 and len(paragraph) <= 200 and not paragraph.endswith((".", ",", ";", ":")) \
        and not _BULLET.match(paragraph)  # fmt: skip


def looks_like_prose(paragraph: str) -> bool:
    n = len(paragraph.split())
    return n >= 20 or (n >= 8 and bool(_PROSE_END.search(paragraph)))


def find_headline(paragraphs: Sequence[str]) -> int | None:
    """Index of the headline: the first headline-like paragraph followed by article prose.

    Navigation teasers are followed by one blurb at most, the headline by the article; a
    headline is never found after a run of three prose paragraphs (the article has begun).
    """
    dates: dict[int, dt.date | None] = {}

    def date_of(j: int) -> dt.date | None:  # once per paragraph, not up to four times
        if j not in dates:
            dates[j] = dateline(paragraphs[j])
        return dates[j]

    first_with_one: int | None = None  # the first candidate followed by one prose paragraph
    prose_run = 0
    for i, p in enumerate(paragraphs):
        if looks_like_prose(p):
            prose_run += 1
            if prose_run >= 3:
                break
            continue
        prose_run = 0
        if _headline_shaped(p) and date_of(i) is None:
            following = [j for j in range(i + 1, min(i + 4, len(paragraphs))) if date_of(j) is None][:2]
            prose = sum(looks_like_prose(paragraphs[j]) for j in following)
            if prose == 2:
                return i  # the first candidate followed by two wins outright
            if prose == 1 and first_with_one is None:
                first_with_one = i
    return first_with_one


# --- the whole article --------------------------------------------------------------------


@dataclass(frozen=True)
class Cleaned:
    """What cleaning makes of one page."""

    title: str | None
    published: dt.date | None
    paragraphs: tuple[str, ...]


def clean(paragraphs: Sequence[str], shared: Iterable[str] = (), *, title: str | None = None) -> Cleaned:
    """Remove chrome and comments; find the headline and date unless front matter gave them.

    `shared` holds `paragraph_key`s of cross-document chrome; `title` is a known title.
    """
    shared_keys = frozenset(shared)
    kept = cut_comments([p for p in paragraphs if paragraph_key(p) not in shared_keys])
    kept = [p for p in kept if not is_chrome(p)]

    start = 0
    headline: str | None = None
    if title is not None:
        # The admin's title wins; drop a repeat of it at the top of the text.
        for i, p in enumerate(kept[:5]):
            if fold(p) == fold(title):
                start = i + 1
                break
    else:
        found = find_headline(kept)
        if found is not None:
            headline, start = kept[found], found + 1
    body = kept[start:]
    published = None
    near = kept[max(start - 4, 0) : start + 3]
    for p in near:
        published = dateline(p)
        if published:
            break
    body = [p for i, p in enumerate(body) if not (i < 3 and dateline(p))]
    return Cleaned(headline, published, tuple(body))
