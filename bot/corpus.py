"""The knowledge folder -> cleaned articles -> passages. File reads only; the logic is in clean.py.

Articles are `.txt`, `.md`, `.pdf`, `.docx`, `.html` and `.htm` files anywhere under the folder
(bot/extract.py reads the last four from their bytes). Files and folders whose names start with
`.` or `_` are ignored; `synonyms.txt` at the top holds query synonyms, and `articles.yaml` the
admin's metadata for any document (bot/sidecar.py). A file that cannot be used (unreadable,
damaged, a scan without text, encrypted, over the size limit) is reported by name with the
reason and skipped; the rest still load.

Nothing outside the folder is ever read: a link that leads out of it (to a file, or to a folder)
is named and skipped, and the check is made again when a file is opened, in case a file or folder
was swapped for a link after the listing. A link to a file inside the folder is read as that file:
it shows nothing the folder does not already hold, and lets an editor publish a file kept under
`_drafts/` without copying it. Links to folders are not followed, even inside (a link to a folder
above it would list the folder again and again). Folders nested more than MAX_DEPTH deep are named
and not entered, so a hostile or mistaken tree cannot exhaust the listing; names that are not UTF-8
are named (as best they can be shown) and skipped.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from bot import clean, extract, sidecar
from bot.characters import visible
from bot.models import Article, LoadProblem, Passage
from bot.passages import MAX_SENTENCE_CHARS, overlong_sentences, section_headings, split_passages
from bot.sidecar import SIDECAR_FILE

ARTICLE_SUFFIXES = (".txt", ".md", *extract.SUFFIXES)
SYNONYMS_FILE = "synonyms.txt"
MAX_FILE_BYTES = 20_000_000  # the default of the MAX_FILE_MB setting
MAX_DEPTH = 32  # folders inside folders that are read; knowledge/a/b.txt is 1 deep
LINK_OUTSIDE = "a link leading outside the knowledge folder; not read (put a copy in the folder instead)"
LINK_TO_FOLDER = "a link to a folder; links to folders are not followed"
LINK_TO_NOTHING = "a link to a file that does not exist; not read"
BAD_NAME = "its name is not UTF-8 text; not read (rename it)"
TOO_DEEP = f"more than {MAX_DEPTH} folders deep; not read (move its files higher up)"


class KnowledgeError(Exception):
    """The knowledge folder as a whole cannot be used."""


class OutsideFolder(OSError):
    """A file to be read turned out to lie outside the knowledge folder."""


@dataclass(frozen=True)
class Corpus:
    """Everything read from the knowledge folder."""

    folder: Path
    articles: tuple[Article, ...]
    passages: tuple[Passage, ...]
    problems: tuple[LoadProblem, ...]
    synonyms: str  # text of synonyms.txt, "" if there is none
    files: Mapping[str, FileState] = field(default_factory=dict)  # every article file read, by source
    keys: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # paragraph keys of each document read

    def passage_counts(self) -> dict[str, int]:
        counts = dict.fromkeys((a.source for a in self.articles), 0)
        for p in self.passages:
            counts[p.article.source] += 1
        return counts


@dataclass(frozen=True)
class FileState:
    """An article file as last read: a reload re-reads it only if its size or modification time
    differ and then, if its content hash is the same, it is unchanged all the same."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class Listing:
    """The knowledge folder's files, listed once per reload and handed to every step that needs
    them (the saved index's check, the loader); each file is still opened with `open_inside`."""

    folder: Path
    files: tuple[tuple[Path, str], ...]
    problems: tuple[LoadProblem, ...]  # what is visible but not listed (links out, too deep...)

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(source for _, source in self.files)


def list_folder(folder: Path) -> Listing:
    """The folder's files as `visible_files` lists them; KnowledgeError if it is not a folder."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise KnowledgeError(f"knowledge folder {folder} {what}: set KNOWLEDGE_DIR or pass --knowledge")
    problems: list[LoadProblem] = []
    files = visible_files(folder, problems)
    return Listing(folder, tuple(files), tuple(problems))


def paragraph_hash(paragraph: str) -> int:
    """A 64-bit digest of a paragraph's key (clean.paragraph_key), as the saved index keeps it."""
    return int.from_bytes(hashlib.blake2b(clean.paragraph_key(paragraph).encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class _Page:
    source: str
    front: clean.FrontMatter  # what the admin says: front matter, overridden by the sidecar
    document: extract.Document  # what the file says: its blocks, and metadata inferred from them


def load(folder: Path, max_bytes: int = MAX_FILE_BYTES, listing: Listing | None = None) -> Corpus:
    """Read, clean and split every article under `folder`; a file over `max_bytes` is skipped."""
    listing = listing or list_folder(folder)
    problems: list[LoadProblem] = list(listing.problems)
    files: dict[str, FileState] = {}
    pages = read_pages(
        folder, [source for _, source in _article_files(list(listing.files), problems)], problems, max_bytes, files
    )
    listed = listing.sources
    if SIDECAR_FILE in listed:
        text = _read_small(folder, SIDECAR_FILE, problems, "ignoring it", files)
        pages = _with_sidecar(pages, text, problems, {source for source in listed if is_article(source)})
    synonyms = (
        _read_small(folder, SYNONYMS_FILE, problems, "searching without synonyms", files)
        if SYNONYMS_FILE in listed
        else ""
    )
    return build(folder, pages, problems, synonyms, files)


def read_pages(
    folder: Path, sources: Sequence[str], problems: list[LoadProblem], max_bytes: int, files: dict[str, FileState]
) -> list[_Page]:
    """The listed article files `sources`, read; what each file was when read goes into `files`."""
    pages: list[_Page] = []
    for source in sources:
        data = _read_bytes(folder, source, problems, max_bytes, files)
        page = None if data is None else _page(source, data, problems)
        if page is not None:
            pages.append(page)
    return pages


def sidecar_pages(
    folder: Path, pages: list[_Page], problems: list[LoadProblem], sources: set[str], files: dict[str, FileState]
) -> list[_Page]:
    """`pages` with the sidecar's metadata (its warnings into `problems`)."""
    text = _read_small(folder, SIDECAR_FILE, problems, "ignoring it", files)
    return _with_sidecar(pages, text, problems, sources)


def _page(source: str, data: bytes, problems: list[LoadProblem]) -> _Page | None:
    def skip(reason: str) -> None:
        problems.append(LoadProblem(source=source, message=reason))

    if extract.kind_of(source) != "text":
        try:
            document = extract.read(source, data)
        except extract.Unreadable as exc:
            skip(str(exc))
            return None
        problems.extend(LoadProblem(source=source, message=w, skipped=False) for w in document.warnings)
        return _Page(source, clean.FrontMatter(), document)
    text = _decode(data, skip)
    if text is None:
        return None
    front, body = clean.split_front_matter(text)
    problems.extend(LoadProblem(source=source, message=w, skipped=False) for w in front.warnings)
    paragraphs = clean.split_paragraphs(body, markdown=source.lower().endswith(".md"))
    return _Page(source, front, extract.Document("text", tuple(extract.Block(p) for p in paragraphs)))


def check_document(source: str, data: bytes) -> tuple[bool, tuple[LoadProblem, ...]]:
    """Whether `data` reads as the document `source` names, as a load reads it, and the problems found."""
    problems: list[LoadProblem] = []
    return _page(source, data, problems) is not None, tuple(problems)


def _with_sidecar(pages: list[_Page], text: str, problems: list[LoadProblem], sources: set[str]) -> list[_Page]:
    """The pages with the sidecar's metadata over their own, field by field."""
    given, warnings = sidecar.parse(text, sources)
    problems.extend(LoadProblem(source=SIDECAR_FILE, message=w, skipped=False) for w in warnings)
    result = []
    for page in pages:
        entry = given.get(page.source)
        if entry is not None:
            front = clean.FrontMatter(
                title=entry.title or page.front.title,
                url=entry.url or page.front.url,
                published=entry.published or page.front.published,
                publisher=entry.publisher or page.front.publisher,
            )
            page = _Page(page.source, front, page.document)
        result.append(page)
    return result


def build(
    folder: Path,
    pages: Sequence[_Page],
    problems: list[LoadProblem],
    synonyms: str,
    files: Mapping[str, FileState] | None = None,
) -> Corpus:
    shared = clean.shared_text([[b.text for b in p.document.blocks] for p in pages])
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
        made = article_of(page, shared.chrome, slugs, problems)
        if made is not None:
            articles.append(made[0])
            passages.extend(made[1])
    keys = {p.source: document_keys(p) for p in pages}
    return Corpus(folder, tuple(articles), tuple(passages), in_order(problems), synonyms, dict(files or {}), keys)


def in_order(problems: Iterable[LoadProblem]) -> tuple[LoadProblem, ...]:
    """Problems grouped by file name, each file's in the order found: the same after a full load
    and after an update of a few files (bot/incremental.py)."""
    return tuple(sorted(problems, key=lambda p: p.source))


def document_keys(page: _Page) -> tuple[int, ...]:
    """The paragraph keys of a document (clean.shared_text's, hashed), each once, sorted."""
    return tuple(sorted({paragraph_hash(b.text) for b in page.document.blocks}))


def article_of(
    page: _Page, chrome: AbstractSet[str], slugs: set[str], problems: list[LoadProblem]
) -> tuple[Article, list[Passage]] | None:
    """A document's article and passages, with the paragraphs in `chrome` removed; None (and a
    problem saying why) if no text is left. Its slug is added to `slugs`."""
    document = page.document
    blocks = document.blocks
    cleaned = clean.clean([b.text for b in blocks], chrome, title=page.front.title or document.title)
    if not cleaned.paragraphs:
        problems.append(
            LoadProblem(source=page.source, message="no article text left after removing site chrome and comments")
        )
        return None
    title = page.front.title or document.title or cleaned.title
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
    kept = _kept(blocks, cleaned.paragraphs)
    sections = {b.section for b in kept if b.section}
    article = Article(
        source=page.source,
        slug=slug,
        title=title,
        published=page.front.published or document.published or cleaned.published,
        publisher=page.front.publisher or document.publisher,
        url=page.front.url or document.url,
        author=document.author,
        pages=document.pages,
        sections=len(sections) if sections else None,
        digest="",
    )
    # The digest says whether a reload changed the article: its text, or what its citation says.
    seen = "\n\n".join((article.model_dump_json(), *cleaned.paragraphs))
    article = article.model_copy(update={"digest": hashlib.sha256(seen.encode()).hexdigest()[:16]})
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
    # Passages never span two pages or sections, so each cites exactly one.
    texts: list[str] = []
    places: list[extract.Block] = []
    for (page_number, section), run in itertools.groupby(kept, key=lambda b: (b.page, b.section)):
        for text in split_passages([b.text for b in run]):
            texts.append(text)
            places.append(extract.Block("", page=page_number, section=section))
    passages = [
        Passage(
            id=f"{slug}-{number}",
            article=article,
            number=number,
            text=text,
            heading=heading,
            page=place.page,
            section=place.section,
        )
        for number, (text, heading, place) in enumerate(zip(texts, section_headings(texts), places, strict=True), 1)
    ]
    return article, passages


def _kept(blocks: Sequence[extract.Block], paragraphs: Sequence[str]) -> list[extract.Block]:
    """The blocks that cleaning kept: `paragraphs` is what clean.clean left of the blocks' texts,
    in order, so each is matched to the next block with its text."""
    kept: list[extract.Block] = []
    remaining = iter(blocks)
    for paragraph in paragraphs:
        kept.append(next(b for b in remaining if b.text == paragraph))
    return kept


def visible_files(folder: Path, problems: list[LoadProblem]) -> list[tuple[Path, str]]:
    """Every file under `folder` the loader looks at, with its name relative to the folder:
    not hidden, not under a name starting with '_', sorted by path (folder by folder).

    What is not listed though it is visible goes into `problems`, named, sorted by name: links
    leading outside the folder, links to folders or to nothing, folders too deep to enter (see
    the module's docstring), names that are not UTF-8 and folders that cannot be listed. os.scandir rather than
    Path.rglob: it knows most entries' kinds without a stat call (200,000 files: about 2 s
    instead of 4.5 s). A list of folders still to list rather than recursion, which a deep
    enough tree would exhaust."""
    root = os.path.realpath(folder)
    found: list[tuple[tuple[str, ...], str]] = []
    skipped: list[LoadProblem] = []
    waiting: list[tuple[str, tuple[str, ...]]] = [(os.fspath(folder), ())]
    while waiting:
        where, prefix = waiting.pop()
        try:
            with os.scandir(where) as listing:
                entries = list(listing)
        except OSError as exc:
            if not prefix:
                raise  # the folder itself: the caller says what is wrong with it
            skipped.append(LoadProblem(source="/".join(prefix), message=f"cannot be listed: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if entry.name.startswith((".", "_")):
                continue
            parts = (*prefix, entry.name)
            why = _unlisted(entry, root, len(parts))
            if why:
                name = os.fsencode("/".join(parts)).decode(errors="replace")  # readable even if not UTF-8
                skipped.append(LoadProblem(source=name, message=why))
            elif entry.is_dir(follow_symlinks=False):
                waiting.append((entry.path, parts))
            elif entry.is_file():
                found.append((parts, entry.path))
    found.sort()
    problems.extend(sorted(skipped, key=lambda p: p.source))
    return [(Path(path), "/".join(parts)) for parts, path in found]


def _unlisted(entry: os.DirEntry[str], root: str, depth: int) -> str | None:
    """Why `entry` (`depth` names below the knowledge folder `root`, a real path) is not listed
    though it is visible, or None. Never says where a link leads: that would show whoever reads
    the report the server's layout."""
    try:
        entry.name.encode()
    except UnicodeEncodeError:  # bytes Python could not decode, kept as lone surrogates
        return BAD_NAME
    if entry.is_symlink():
        if not _inside(os.path.realpath(entry.path), root):
            return LINK_OUTSIDE
        try:
            mode = os.stat(entry.path).st_mode
        except OSError:  # leads nowhere, or round in a circle
            return LINK_TO_NOTHING
        return LINK_TO_FOLDER if stat.S_ISDIR(mode) else None
    if depth > MAX_DEPTH and entry.is_dir(follow_symlinks=False):
        return TOO_DEEP
    return None


def _inside(real: str, root: str) -> bool:
    return os.path.commonpath([real, root]) == root


def open_inside(folder: Path, source: str) -> BinaryIO:
    """The listed file `source` (a name from `visible_files`), opened for reading; OutsideFolder if
    it now leads outside `folder`, OSError if it cannot be opened or is not a regular file.

    A file or folder may have been swapped for a link since the listing, so every folder on the
    way is opened without following links; a file that is a link is opened at its real place
    only if that lies inside the folder (checked on the real path, then opened the same way)."""
    try:
        fd = _open_beneath(os.fspath(folder), source.split("/"))
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):  # how O_NOFOLLOW refuses a link to a file, to a folder
            raise
        root = os.path.realpath(folder)
        real = os.path.realpath(os.path.join(root, source))
        if not _inside(real, root):
            raise OutsideFolder(LINK_OUTSIDE) from None
        fd = _open_beneath(root, os.path.relpath(real, root).split(os.sep))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open_beneath(root: str, parts: Sequence[str]) -> int:
    """A file descriptor for root/parts..., following no link on the way."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        # O_NONBLOCK: a pipe put in a file's place must not hang the reader (the fstat after refuses it)
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)


def is_article(source: str) -> bool:
    return source not in (SYNONYMS_FILE, SIDECAR_FILE) and source.lower().endswith(ARTICLE_SUFFIXES)


def _article_files(listed: list[tuple[Path, str]], problems: list[LoadProblem]) -> list[tuple[Path, str]]:
    files = []
    for path, source in listed:
        if source in (SYNONYMS_FILE, SIDECAR_FILE):
            continue
        if not is_article(source):
            problems.append(LoadProblem(source=source, message=f"not one of {', '.join(ARTICLE_SUFFIXES)}"))
            continue
        files.append((path, source))
    return files


def too_large(max_bytes: int) -> str:
    """Why a file over the size limit is skipped, and the fix."""
    return f"larger than {max_bytes / 1_000_000:g} MB (the MAX_FILE_MB setting); split it, or raise MAX_FILE_MB"


def _read_bytes(
    folder: Path, source: str, problems: list[LoadProblem], max_bytes: int, files: dict[str, FileState]
) -> bytes | None:
    def skip(reason: str) -> None:
        problems.append(LoadProblem(source=source, message=reason))

    try:
        with open_inside(folder, source) as f:
            status = os.fstat(f.fileno())
            if status.st_size > max_bytes:
                files[source] = FileState(status.st_size, status.st_mtime_ns, "")
                skip(too_large(max_bytes))
                return None
            data = f.read(max_bytes + 1)
            files[source] = FileState(status.st_size, status.st_mtime_ns, hashlib.sha256(data).hexdigest())
            return data
    except OutsideFolder:
        skip(LINK_OUTSIDE)
        return None
    except OSError as exc:
        skip(f"cannot be read: {exc.strerror or exc}")
        return None


def _decode(data: bytes, skip: Callable[[str], None]) -> str | None:
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


def _read_small(
    folder: Path, source: str, problems: list[LoadProblem], otherwise: str, files: dict[str, FileState]
) -> str:
    """synonyms.txt or articles.yaml as text; "" (and a problem saying so) if it cannot be read."""
    try:
        with open_inside(folder, source) as f:
            status = os.fstat(f.fileno())
            data = f.read()
            files[source] = FileState(status.st_size, status.st_mtime_ns, hashlib.sha256(data).hexdigest())
            return data.decode("utf-8-sig")
    except OutsideFolder:
        problems.append(LoadProblem(source=source, message=LINK_OUTSIDE))
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(LoadProblem(source=source, message=f"cannot be read ({exc}); {otherwise}"))
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
