"""A PDF, Word or web page's bytes -> its text blocks and metadata. No file I/O: bot/corpus.py
reads the file (inside the knowledge folder, within the size limit) and hands the bytes here.

- PDF (pypdf): text page by page, each block labelled with its page (from 1); running headers
  and footers removed, hyphenated words rejoined (bot/layout.py). Title, author and date from
  the document's properties, else the title from the first page. No text layer on any page (a
  scan) or a password: `Unreadable`, with the reason.
- Word .docx (python-docx): the body's paragraphs; a heading starts a section, and each block
  is labelled with the heading it falls under. Title, author and date from the properties.
  Page headers and footers are not part of the body, so never indexed.
- Web pages .html/.htm (lxml): the article's main text only: the first <article>, <main> or
  role="main" element, else <body>, without navigation, headers, footers, asides, forms,
  scripts, and any element whose id or class names a cookie banner, comments, newsletter,
  "most read"/related lists, sharing or adverts. h2-h6 headings start sections. Title, date,
  author, publisher and canonical URL from the page's <meta>, <link> and <time> tags.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bot import layout
from bot.characters import visible
from bot.clean import parse_date

PDF_SUFFIXES = (".pdf",)
WORD_SUFFIXES = (".docx",)
HTML_SUFFIXES = (".html", ".htm")
SUFFIXES = PDF_SUFFIXES + WORD_SUFFIXES + HTML_SUFFIXES
NO_TEXT_LAYER = "no text layer: it needs OCR (a scanned document?); not read"
ENCRYPTED = "encrypted (password-protected); not read: save a copy without the password"


class Unreadable(Exception):
    """The document cannot be used; the message says why, in words."""


@dataclass(frozen=True)
class Block:
    """One paragraph of a document, with where it stands."""

    text: str
    page: int | None = None  # PDF page, from 1
    section: str | None = None  # the heading it falls under (Word, web pages)


@dataclass(frozen=True)
class Document:
    kind: str  # "PDF", "Word", "web page"
    blocks: tuple[Block, ...]
    title: str | None = None
    author: str | None = None
    published: dt.date | None = None
    publisher: str | None = None
    url: str | None = None
    pages: int | None = None
    warnings: tuple[str, ...] = field(default=())


def kind_of(source: str) -> str:
    """What a file is, by its name: 'PDF', 'Word', 'web page' or 'text'."""
    name = source.lower()
    if name.endswith(PDF_SUFFIXES):
        return "PDF"
    if name.endswith(WORD_SUFFIXES):
        return "Word"
    if name.endswith(HTML_SUFFIXES):
        return "web page"
    return "text"


def read(source: str, data: bytes) -> Document:
    """The document in `data`, read by the format `source`'s name says; Unreadable if it cannot be."""
    kind = kind_of(source)
    try:
        if kind == "PDF":
            return _pdf(data)
        if kind == "Word":
            return _word(data)
        return _html(data)
    except Unreadable:
        raise
    except Exception as exc:  # a damaged file can raise anything inside a parser
        raise Unreadable(f"cannot be read as a {kind} ({type(exc).__name__}: {_short(exc)}); is it damaged?") from exc


def _short(exc: Exception) -> str:
    return " ".join(visible(str(exc)).split())[:200] or "no detail"


# --- PDF ----------------------------------------------------------------------------------


def _pdf(data: bytes) -> Document:
    import pypdf  # imported here: loading a folder of .txt files never pays for it
    from pypdf.errors import DependencyError, FileNotDecryptedError

    reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            opened = bool(reader.decrypt(""))  # permissions-only encryption opens with an empty password
        except (DependencyError, FileNotDecryptedError, NotImplementedError):
            opened = False
        if not opened:
            raise Unreadable(ENCRYPTED)
    raw = [layout.page_lines(page.extract_text() or "") for page in reader.pages]
    empty = [n for n, lines in enumerate(raw, 1) if not any(lines)]
    if len(empty) == len(raw):
        raise Unreadable(NO_TEXT_LAYER)
    pages, running = layout.remove_running_lines(raw)
    blocks = [Block(p, page=n) for n, lines in enumerate(pages, 1) for p in layout.page_paragraphs(lines)]
    warnings = []
    if empty:
        listed = ", ".join(map(str, empty[:10])) + (" …" if len(empty) > 10 else "")
        warnings.append(f"no text layer on page{'s' if len(empty) > 1 else ''} {listed} (scanned?); not indexed")
    if running:
        warnings.append(f"removed {running} running header/footer line{'s' if running > 1 else ''}")
    meta: Any = reader.metadata or {}
    first = next((n for n, lines in enumerate(pages, 1) if any(lines)), 1)
    title = layout.metadata_title(meta.get("/Title")) or layout.first_page_title(
        [b.text for b in blocks if b.page == first]
    )
    return Document(
        kind="PDF",
        blocks=tuple(blocks),
        title=title,
        author=_text(meta.get("/Author")),
        published=layout.pdf_date(meta.get("/CreationDate")),
        pages=len(raw),
        warnings=tuple(warnings),
    )


# --- Word ---------------------------------------------------------------------------------


def _word(data: bytes) -> Document:
    import docx

    document = docx.Document(io.BytesIO(data))
    blocks: list[Block] = []
    title: str | None = None
    section: str | None = None
    for paragraph in document.paragraphs:
        text = _text(paragraph.text)
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style == "Title":
            title = title or text
            continue
        if style.startswith("Heading"):
            section = text
        blocks.append(Block(text, section=section))
    properties = document.core_properties
    created = properties.created or properties.modified
    return Document(
        kind="Word",
        blocks=tuple(blocks),
        title=layout.metadata_title(properties.title) or title,
        author=_text(properties.author),
        published=created.date() if created else None,
    )


# --- web pages ----------------------------------------------------------------------------

_FURNITURE_TAGS = ("nav", "footer", "aside", "form", "script", "style", "noscript", "iframe", "svg", "button")
_FURNITURE_NAME = re.compile(
    r"(?:^|[-_])(?:cookies?|consent|gdpr|banner|comments?|disqus|newsletters?|subscribe|subscription|signup|"
    r"sign-up|most-?read|most-?popular|popular|trending|related|share|sharing|social|promo|adverts?|"
    r"advertisement|ads?|breadcrumbs?|menu|nav|navigation|footer|sidebar|outbrain|taboola)(?:$|[-_])",
    re.IGNORECASE,
)
_BLOCK_TAGS = frozenset(("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "figcaption", "dd", "dt"))
_HEADINGS = frozenset(("h2", "h3", "h4", "h5", "h6"))


def _html(data: bytes) -> Document:
    import lxml.html

    try:
        data.decode("utf-8")
        # A page that says nothing of its encoding is read as UTF-8, as browsers now guess, not Latin-1.
        root = lxml.html.document_fromstring(data, parser=lxml.html.HTMLParser(encoding="utf-8"))
    except UnicodeDecodeError:
        root = lxml.html.document_fromstring(data)  # the encoding its <meta charset> names
    meta = _html_meta(root)
    main = next(iter(root.xpath("//article | //main | //*[@role='main']")), None)
    if main is None:
        main = root.find("body")
    if main is None:
        raise Unreadable("no <body> in the page")
    for element in list(_furniture(main)):
        if element is not main:
            element.drop_tree()
    blocks: list[Block] = []
    section: str | None = None
    h1: str | None = None
    for element in main.iter(*_BLOCK_TAGS):
        if any(ancestor.tag in _BLOCK_TAGS for ancestor in element.iterancestors()):
            continue  # its text is in the block around it
        text = _text(element.text_content())
        if not text:
            continue
        if element.tag == "h1":
            h1 = h1 or text
        if element.tag in _HEADINGS:
            section = text
        blocks.append(Block(text, section=section))
    return Document(
        kind="web page",
        blocks=tuple(blocks),
        title=meta.get("title") or h1,
        author=meta.get("author"),
        published=_date(meta.get("published", "")),
        publisher=meta.get("publisher"),
        url=meta.get("url"),
    )


def _furniture(main: Any) -> Iterator[Any]:
    for element in main.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        names = f"{element.get('id', '')} {element.get('class', '')}".split()
        if element.tag in _FURNITURE_TAGS or any(_FURNITURE_NAME.search(name) for name in names):
            yield element
        elif element.tag == "header" and main.tag == "body":
            yield element  # the site's header; an article's own header holds its headline and date


# Where pages put their metadata, best first.
_META = {
    "title": ("og:title", "twitter:title", "dc.title"),
    "author": ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author"),
    "published": ("article:published_time", "datepublished", "date", "dc.date", "dc.date.issued", "pubdate"),
    "publisher": ("og:site_name", "publisher", "dc.publisher"),
    "url": ("og:url",),
}


def _html_meta(root: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    tags: dict[str, str] = {}
    for tag in root.iter("meta"):
        name = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").strip().lower()
        content = _text(tag.get("content"))
        if name and content and name not in tags:
            tags[name] = content
    for key, names in _META.items():
        value = next((tags[n] for n in names if n in tags), None)
        if value:
            found[key] = value
    canonical = root.xpath("//link[@rel='canonical']/@href")
    if canonical and _text(canonical[0]):
        found["url"] = str(_text(canonical[0]))
    if "title" not in found:
        title = root.find(".//title")
        if title is not None and _text(title.text_content()):
            found["title"] = str(_text(title.text_content()))
    if "published" not in found:
        stamp = root.xpath("//time/@datetime")
        if stamp:
            found["published"] = str(stamp[0])
    if "url" in found and not found["url"].startswith(("https://", "http://")):
        del found["url"]  # a relative or javascript: link is no address a citation can give
    return found


def _date(value: str) -> dt.date | None:
    """'2021-03-04T09:00:00Z' (ISO 8601, as <meta> and <time> give it) or a date in words."""
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return parse_date(value)


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(visible(value).split()) or None
