"""The saved index: an `Index` written to one file beside the query log, and read back instead
of re-indexing when the knowledge folder has not changed (100,000 passages take over a minute to
index and under a second to read).

A saved index is used only when it is whole, undamaged, and made from the same knowledge by the
same code. Anything else (no file, another format, stale, truncated, corrupt) raises `Unusable`
with the reason in words, and the caller rebuilds. What is checked:

- the **knowledge fingerprint**: SHA-256 over the name and bytes of every article file,
  synonyms.txt and articles.yaml (the metadata sidecar), the file size limit, and the names of
  the other files, links and folders the loader reports as skipped;
- the **code fingerprint**: SHA-256 over the source of every module that shapes an index, so
  an upgraded bot never reads an index its predecessor cleaned or analysed differently;
- a **SHA-256 of the whole file** in its last 32 bytes, before anything in it is believed;
- every array's place and size against the file, and the parts against each other.

Writing is atomic: a temporary file in the same folder, flushed to disk, then renamed over the
old one, so a reader (the bot, another bot process, the command line) sees the old file or the
new one, never half of either.

Layout: MAGIC, the header's length (8 bytes, little-endian), the header (JSON), the arrays (each
8-byte aligned, at the offset the header gives), then the SHA-256 of everything before it.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import importlib.util
import json
import os
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.bm25 import BM25Index, BM25Params, Postings
from bot.catalog import Catalog
from bot.corpus import MAX_FILE_BYTES, SYNONYMS_FILE, FileState, Listing, is_article, open_inside, visible_files
from bot.models import Article, LoadProblem
from bot.search import Index, IndexParts
from bot.sidecar import SIDECAR_FILE
from bot.text import Analyzer, CorpusFacts

MAGIC = b"policy-bot index\n"
FORMAT = 3  # 2: passages carry a page and a section; 3: what an update of a few files needs
CHECKSUM = 32  # bytes of SHA-256 at the end of the file
_CHUNK = 1 << 20  # bytes read and hashed at a time
_VOCABULARY_CHUNK = 20_000  # terms added to the vocabulary per step (see _vocabulary)


class Unusable(Exception):
    """The saved index cannot be used; the message says why, in words."""


def knowledge_fingerprint(folder: Path, max_bytes: int = MAX_FILE_BYTES, listing: Listing | None = None) -> str:
    """A digest of everything in `folder` that the index is made from (`listing`: the folder as
    listed already for this reload, so it is listed once).

    A file that cannot be read is fingerprinted by its error, so the index built while it was
    unreadable is reused only while it still is; a link or folder the listing skips, by its name
    and why (bot/corpus.py), so adding or removing one is a change."""
    digest = hashlib.sha256(f"files up to {max_bytes} bytes".encode())  # another limit reads other files
    unlisted: list[LoadProblem] = []
    if listing is not None:
        files, unlisted = list(listing.files), list(listing.problems)
    else:
        files = visible_files(folder, unlisted) if folder.is_dir() else []
    for _, source in files:
        digest.update(f"\0{source}\0".encode())
        if source not in (SYNONYMS_FILE, SIDECAR_FILE) and not is_article(source):
            continue  # only its name matters: the loader reports it as skipped
        try:
            with open_inside(folder, source) as f:
                while block := f.read(_CHUNK):
                    digest.update(block)
        except OSError as exc:
            digest.update(f"\0unreadable: {exc.strerror or exc}".encode())
    for problem in unlisted:  # links and folders not read: their names, never what they lead to
        digest.update(f"\0unlisted\0{problem.source}\0{problem.message}".encode())
    return digest.hexdigest()


def shaping_modules(root: str = __name__) -> tuple[str, ...]:
    """The modules whose code decides what an index holds: this one and every module of the bot it
    imports, directly or through another (read from their import statements, so a module added to
    the loading or the analysis is never left out). Sorted."""
    package = root.partition(".")[0]
    found: set[str] = set()
    waiting = [root]
    while waiting:
        name = waiting.pop()
        if name in found:
            continue
        found.add(name)
        for node in ast.walk(ast.parse(_source(name).read_bytes())):
            if isinstance(node, ast.ImportFrom) and node.module == package:  # from bot import clean
                names = [f"{package}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            waiting += [n for n in names if n.startswith(f"{package}.")]
    return tuple(sorted(found))


def _source(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    return Path(spec.origin)


@functools.cache
def code_fingerprint() -> str:
    """A digest of the source of the modules that decide what an index holds."""
    digest = hashlib.sha256(f"{FORMAT}".encode())
    for name in shaping_modules():
        digest.update(_source(name).read_bytes())
    return digest.hexdigest()


def save(index: Index, path: Path, knowledge: str) -> None:
    """Write `index` to `path` atomically; OSError if it cannot be written (the old file stays)."""
    parts = index.parts
    catalog, bm25 = parts.catalog, parts.bm25
    terms = "\n".join(bm25.vocabulary).encode()  # a dict keeps insertion order: term i is line i
    articles = "\n".join(_article_json(a) for a in catalog.articles).encode()
    arrays: dict[str, npt.NDArray[Any]] = {
        **bm25.data.arrays(),
        "terms": np.frombuffer(terms, dtype=np.uint8),
        "article_of": catalog.article_of,
        "text": catalog.text,
        "text_ends": catalog.text_ends,
        "headings": catalog.headings,
        "heading_ends": catalog.heading_ends,
        "pages": catalog.pages,
        "sections": catalog.sections,
        "section_ends": catalog.section_ends,
        "articles": np.frombuffer(articles, dtype=np.uint8),
        "keys": np.fromiter((k for ks in parts.keys.values() for k in ks), dtype=np.uint64),
        "key_counts": np.fromiter(map(len, parts.keys.values()), dtype=np.int64, count=len(parts.keys)),
        **_counter_arrays("capitals", parts.facts.capitals),
        **_counter_arrays("lower_words", parts.facts.lower_words),
    }
    analyzer = parts.analyzer
    header: dict[str, Any] = {
        "format": FORMAT,
        "code": code_fingerprint(),
        "knowledge": knowledge,
        "saved": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "folder": str(parts.folder),
        "version": parts.version,
        "params": [bm25.params.k1, bm25.params.b, bm25.params.delta],
        "synonyms": parts.synonyms,
        "problems": [p.model_dump() for p in parts.problems],
        "acronyms": sorted(analyzer.acronyms),
        "long_forms": [[list(form), acronym] for form, acronym in analyzer.long_forms.items()],
        "learned": analyzer.learned,
        "files": {source: [f.size, f.mtime_ns, f.sha256] for source, f in parts.files.items()},
        "key_sources": list(parts.keys),
        "definitions": {
            group: [[list(form), a] for form, a in forms] for group, forms in parts.facts.definitions.items()
        },
        "arrays": {},
    }
    # Offsets depend on the header's length, which depends on the offsets: lay the arrays out
    # after a header with room for them, padding it to the length the offsets assumed.
    placeholder = {name: {"dtype": a.dtype.str, "count": int(a.size), "offset": 0} for name, a in arrays.items()}
    room = len(json.dumps(header | {"arrays": placeholder}).encode()) + 32 * len(arrays) + 64
    position = _align(len(MAGIC) + 8 + room)
    for name, array in arrays.items():
        header["arrays"][name] = {"dtype": array.dtype.str, "count": int(array.size), "offset": position}
        position = _align(position + array.nbytes)
    encoded = json.dumps(header).encode()
    encoded += b" " * (room - len(encoded))

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with temporary.open("wb") as f:

            def write(data: bytes | memoryview) -> None:
                digest.update(data)
                f.write(data)

            write(MAGIC + room.to_bytes(8, "little") + encoded)
            for name, array in arrays.items():
                write(b"\0" * (header["arrays"][name]["offset"] - f.tell()))
                write(np.ascontiguousarray(array).data.cast("B"))
            write(b"\0" * (_align(f.tell()) - f.tell()))
            f.write(digest.digest())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def load(path: Path, folder: Path, knowledge: str | None, min_relevance: float) -> Index:
    """The index of `folder` saved at `path`, if it is whole and current; Unusable (saying why) if not.
    With `knowledge` None, an index of an older state of the folder is read too (its `parts.files`
    say which files it was made from: bot/incremental.py brings it up to date)."""
    header, data = _read(path, knowledge)
    try:
        arrays = _arrays(header, data)
        params = BM25Params(*(float(x) for x in header["params"]))
        postings = Postings(**{f.name: arrays[f.name] for f in fields(Postings)})
        bm25 = BM25Index.restore(_vocabulary(arrays["terms"]), params, postings)
        articles = tuple(_article(line) for line in arrays["articles"].tobytes().decode().split("\n"))
        catalog = Catalog(
            articles,
            arrays["article_of"],
            arrays["text"],  # views of the file's bytes: 100 MB at 100k passages, not copied
            arrays["text_ends"],
            arrays["headings"],
            arrays["heading_ends"],
            arrays["pages"],
            arrays["sections"],
            arrays["section_ends"],
        )
        if len(catalog) != bm25.size:
            raise ValueError("the passages and the ranking index differ in size")
        analyzer = Analyzer(
            acronyms=frozenset(header["acronyms"]),
            long_forms={tuple(form): acronym for form, acronym in header["long_forms"]},
            learned=bool(header["learned"]),
        )
        parts = IndexParts(
            folder=folder,  # the same files may have moved since
            catalog=catalog,
            problems=tuple(LoadProblem(**p) for p in header["problems"]),
            synonyms=str(header["synonyms"]),
            analyzer=analyzer,
            bm25=bm25,
            version=str(header["version"]),
            files={source: FileState(int(a), int(b), str(c)) for source, (a, b, c) in header["files"].items()},
            keys=_keys(header["key_sources"], arrays["keys"], arrays["key_counts"]),
            facts=CorpusFacts(
                _counter(arrays["capitals"], arrays["capitals_counts"]),
                _counter(arrays["lower_words"], arrays["lower_words_counts"]),
                {g: [(tuple(form), str(a)) for form, a in forms] for g, forms in header["definitions"].items()},
            ),
        )
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise Unusable(f"it is damaged ({exc})") from exc
    return Index.restore(parts, min_relevance)


def _counter_arrays(name: str, counter: Counter[str]) -> dict[str, npt.NDArray[Any]]:
    words = "\n".join(counter).encode()
    counts = np.fromiter(counter.values(), dtype=np.int64, count=len(counter))
    return {name: np.frombuffer(words, dtype=np.uint8), f"{name}_counts": counts}


def _counter(blob: npt.NDArray[np.uint8], counts: npt.NDArray[np.int64]) -> Counter[str]:
    words = blob.tobytes().decode().split("\n") if blob.size else []
    if len(words) != len(counts):
        raise ValueError("a word count does not fit its words")
    return Counter(dict(zip(words, counts.tolist(), strict=True)))


def _keys(
    sources: list[str], keys: npt.NDArray[np.uint64], counts: npt.NDArray[np.int64]
) -> dict[str, tuple[int, ...]]:
    if len(sources) != len(counts) or int(counts.sum()) != len(keys):
        raise ValueError("the paragraph keys do not fit their documents")
    ends = np.cumsum(counts).tolist()
    flat = keys.tolist()
    return {s: tuple(flat[end - n : end]) for s, n, end in zip(sources, counts.tolist(), ends, strict=True)}


def _read(path: Path, knowledge: str | None) -> tuple[dict[str, Any], bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Unusable("there is no saved index yet") from None
    except OSError as exc:
        raise Unusable(f"it cannot be read ({exc.strerror or exc})") from None
    if not data.startswith(MAGIC):
        raise Unusable("it is not a saved index")
    start = len(MAGIC) + 8
    if len(data) < start + CHECKSUM:
        raise Unusable("it is cut short")
    # hashlib lets other threads run while it hashes a large buffer
    if hashlib.sha256(memoryview(data)[:-CHECKSUM]).digest() != data[-CHECKSUM:]:
        raise Unusable("it is cut short or damaged (its checksum does not match)")
    size = int.from_bytes(data[len(MAGIC) : start], "little")
    try:
        header = json.loads(data[start : start + size])
        if not isinstance(header, dict):
            raise ValueError("header is not an object")
    except RecursionError:
        raise Unusable("it is damaged (its header is nested too deeply to read)") from None
    except ValueError as exc:
        raise Unusable(f"it is damaged ({exc})") from None
    if header.get("format") != FORMAT:
        raise Unusable(f"it is in another format ({header.get('format')!r}, this bot reads {FORMAT})")
    if header.get("code") != code_fingerprint():
        raise Unusable("it was made by a different version of the bot")
    if knowledge is not None and header.get("knowledge") != knowledge:
        raise Unusable("the knowledge folder has changed since it was saved")
    return header, data


def _arrays(header: dict[str, Any], data: bytes) -> dict[str, npt.NDArray[Any]]:
    arrays = {}
    end = len(data) - CHECKSUM
    for name, spec in header["arrays"].items():
        dtype = np.dtype(spec["dtype"])
        count, offset = int(spec["count"]), int(spec["offset"])
        if count < 0 or offset < 0 or offset % 8 or offset + count * dtype.itemsize > end:
            raise ValueError(f"array {name} lies outside the file")
        arrays[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return arrays


def _vocabulary(blob: npt.NDArray[np.uint8]) -> dict[str, int]:
    """Term -> id, built a slice at a time. Splitting half a million terms in one call would
    hold the interpreter lock for over 50 ms, and a bot reloading under load is answering
    questions on another thread meanwhile; a slice takes a few milliseconds."""
    if not blob.size:
        return {}
    breaks = np.flatnonzero(blob == ord("\n"))
    ends = [*breaks[_VOCABULARY_CHUNK - 1 :: _VOCABULARY_CHUNK].tolist(), blob.size]
    vocabulary: dict[str, int] = {}
    start = 0
    for end in ends:
        terms = blob[start:end].tobytes().decode().split("\n")
        vocabulary.update(zip(terms, range(len(vocabulary), len(vocabulary) + len(terms)), strict=True))
        start = end + 1
    if len(vocabulary) != breaks.size + 1:
        raise ValueError("the vocabulary repeats a term")
    return vocabulary


def _article_json(article: Article) -> str:
    return json.dumps(article.model_dump(mode="json"), ensure_ascii=False)


def _article(line: str) -> Article:
    fields = json.loads(line)
    return Article.model_validate(fields)


def _align(n: int) -> int:
    return (n + 7) // 8 * 8


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
