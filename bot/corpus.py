"""The knowledge folder -> cleaned articles -> passages. File reads only; the logic is in clean.py.

Articles are `.txt` and `.md` files anywhere under the folder. Files and folders whose names
start with `.` or `_` are ignored, and `synonyms.txt` at the top holds query synonyms. A file
that cannot be used is reported by name with the reason and skipped; the rest still load.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import clean
from bot.characters import visible
from bot.models import Article, LoadProblem, Passage
from bot.passages import MAX_SENTENCE_CHARS, overlong_sentences, section_headings, split_passages

ARTICLE_SUFFIXES = (".txt", ".md")
SYNONYMS_FILE = "synonyms.txt"
MAX_FILE_BYTES = 20_000_000


class KnowledgeError(Exception):
    """The knowledge folder as a whole cannot be used."""


@dataclass(frozen=True)
class Corpus:
    """Everything read from the knowledge folder."""

    folder: Path
    articles: tuple[Article, ...]
    passages: tuple[Passage, ...]
    problems: tuple[LoadProblem, ...]
    synonyms: str  # text of synonyms.txt, "" if there is none

    def passage_counts(self) -> dict[str, int]:
        counts = dict.fromkeys((a.source for a in self.articles), 0)
        for p in self.passages:
            counts[p.article.source] += 1
        return counts


@dataclass(frozen=True)
class _Page:
    source: str
    front: clean.FrontMatter
    paragraphs: list[str]


def load(folder: Path) -> Corpus:
    """Read, clean and split every article under `folder`."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise KnowledgeError(f"knowledge folder {folder} {what}: set KNOWLEDGE_DIR or pass --knowledge")
    problems: list[LoadProblem] = []
    pages: list[_Page] = []
    for path in _article_files(folder, problems):
        source = path.relative_to(folder).as_posix()
        text = _read_text(path, source, problems)
        if text is None:
            continue
        front, body = clean.split_front_matter(text)
        problems.extend(LoadProblem(source=source, message=w, skipped=False) for w in front.warnings)
        pages.append(_Page(source, front, clean.split_paragraphs(body, markdown=path.suffix == ".md")))
    return build(folder, pages, problems, _read_synonyms(folder, problems))


def build(folder: Path, pages: Sequence[_Page], problems: list[LoadProblem], synonyms: str) -> Corpus:
    shared = clean.shared_text([p.paragraphs for p in pages])
    for a, b in shared.copies:
        problems.append(
            LoadProblem(
                source=pages[b].source,
                message=f"mostly the same text as {pages[a].source}; remove one if it is a copy",
                skipped=False,
            )
        )
    articles: list[Article] = []
    passages: list[Passage] = []
    slugs: set[str] = set()
    for page in pages:
        cleaned = clean.clean(page.paragraphs, shared.chrome, title=page.front.title)
        if not cleaned.paragraphs:
            problems.append(
                LoadProblem(source=page.source, message="no article text left after removing site chrome and comments")
            )
            continue
        title = page.front.title or cleaned.title
        if title is None:
            title = _title_from_name(page.source)
            problems.append(
                LoadProblem(
                    source=page.source,
                    message="found no headline; using the file name (add 'title:' front matter)",
                    skipped=False,
                )
            )
        slug = _slug(page.source, slugs)
        article = Article(
            source=page.source,
            slug=slug,
            title=title,
            published=page.front.published or cleaned.published,
            publisher=page.front.publisher,
            url=page.front.url,
            digest=hashlib.sha256("\n\n".join(cleaned.paragraphs).encode()).hexdigest()[:16],
        )
        articles.append(article)
        overlong = overlong_sentences(cleaned.paragraphs)
        if overlong:
            runs = "a run" if overlong == 1 else f"{overlong:,} runs"
            problems.append(
                LoadProblem(
                    source=page.source,
                    message=f"{runs} of over {MAX_SENTENCE_CHARS:,} characters without a sentence end (a table?), "
                    "cut between words into passages",
                    skipped=False,
                )
            )
        texts = split_passages(cleaned.paragraphs)
        for number, (text, heading) in enumerate(zip(texts, section_headings(texts), strict=True), 1):
            passages.append(Passage(id=f"{slug}-{number}", article=article, number=number, text=text, heading=heading))
    return Corpus(folder, tuple(articles), tuple(passages), tuple(problems), synonyms)


def visible_files(folder: Path) -> list[tuple[Path, str]]:
    """Every file under `folder` the loader looks at, with its name relative to the folder:
    not hidden, not under a name starting with '_', sorted by path (folder by folder).

    A symbolic link to a file counts as the file; one to a folder is not followed. os.scandir
    rather than Path.rglob: it knows most entries' kinds without a stat call (200,000 files:
    about 2 s instead of 4.5 s)."""
    found: list[tuple[tuple[str, ...], str]] = []

    def visit(where: str, prefix: tuple[str, ...]) -> None:
        with os.scandir(where) as entries:
            for entry in entries:
                if entry.name.startswith((".", "_")):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    visit(entry.path, (*prefix, entry.name))
                elif entry.is_file():
                    found.append(((*prefix, entry.name), entry.path))

    visit(os.fspath(folder), ())
    found.sort()
    return [(Path(path), "/".join(parts)) for parts, path in found]


def is_article(source: str) -> bool:
    return source != SYNONYMS_FILE and source.lower().endswith(ARTICLE_SUFFIXES)


def _article_files(folder: Path, problems: list[LoadProblem]) -> list[Path]:
    files = []
    for path, source in visible_files(folder):
        if source == SYNONYMS_FILE:
            continue
        if not is_article(source):
            problems.append(LoadProblem(source=source, message="not a .txt or .md file"))
            continue
        files.append(path)
    return files


def _read_text(path: Path, source: str, problems: list[LoadProblem]) -> str | None:
    def skip(reason: str) -> None:
        problems.append(LoadProblem(source=source, message=reason))

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            skip(f"larger than {MAX_FILE_BYTES // 1_000_000} MB; split it into several articles")
            return None
        data = path.read_bytes()
    except OSError as exc:
        skip(f"cannot be read: {exc.strerror or exc}")
        return None
    if b"\x00" in data:
        skip("binary file, not text")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        skip(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}); save it as UTF-8")
        return None
    if not text.strip():
        skip("empty file")
        return None
    return text


def _read_synonyms(folder: Path, problems: list[LoadProblem]) -> str:
    path = folder / SYNONYMS_FILE
    if not path.is_file():
        return ""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(
            LoadProblem(source=SYNONYMS_FILE, message=f"cannot be read ({exc}); searching without synonyms")
        )
        return ""


def _slug(source: str, taken: set[str]) -> str:
    stem = source.rsplit(".", 1)[0]
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "article"
    candidate, n = slug, 2
    while candidate in taken:
        candidate, n = f"{slug}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _title_from_name(source: str) -> str:
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    words = " ".join(re.sub(r"[_\-]+", " ", visible(stem)).split())
    return words[:1].upper() + words[1:] if words else source
