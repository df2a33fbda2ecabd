"""An index brought up to date with the knowledge folder by re-reading only the files that changed.

`update(index, listing, max_bytes)` compares the folder's listing with the files the index was
made from (`IndexParts.files`: size, modification time and, when those differ, content hash),
reads and analyses only the added and changed documents, and assembles an index equal to a full
build of the folder: the same passages in the same order, the same problems, version and
analyzer, and BM25 scores equal to rank_bm25's on the whole corpus. Unchanged passages' terms
come from the index's postings (`BM25Index.updated`), never from their text.

What one document changes in the rest of the corpus is handled here:
- the acronyms the analyzer learns (a new "Integrated Care Systems (ICSs)", or "ics" written in
  lower case): the analyzer is recomputed from facts counted per passage (`text.CorpusFacts`),
  and unchanged passages whose text holds a changed acronym, or the first word of a changed long
  form, are analysed again;
- paragraphs shared between documents (site chrome, copies: clean.shared_text): when a changed
  document's paragraph is shared with one or two other documents, what counts as chrome for
  them may change, so `Rebuild` is raised;
- synonyms.txt changes (new acronyms, a new version), or a slug shared by two files: `Rebuild`.
The caller answers `Rebuild` with a full build. articles.yaml is read again each time (it is
small), so its metadata and warnings are always current; a change to it re-reads every document
it names.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from bot import clean, corpus
from bot.catalog import Catalog
from bot.corpus import SYNONYMS_FILE, FileState, Listing, is_article
from bot.models import Article, LoadProblem, Passage
from bot.search import Index, IndexParts, version_of
from bot.sidecar import SIDECAR_FILE
from bot.text import Analyzer, CorpusFacts, acronyms_in, text_facts


class Rebuild(Exception):
    """The change cannot be applied file by file; the message says why."""


def changed_files(index: Index, listing: Listing, max_bytes: int) -> tuple[set[str], set[str]]:
    """The article files added or changed since `index` was made, and those removed. RAISES
    Rebuild when synonyms.txt changed. A file whose size and time are as recorded is unchanged;
    one whose time alone differs is read and compared by content hash."""
    known = index.parts.files
    listed = {source: path for path, source in listing.files}
    for special in (SYNONYMS_FILE,):
        if _differs(known.get(special), listed.get(special)):
            raise Rebuild(f"{special} changed")
    changed = set()
    for source, path in listed.items():
        if not is_article(source):
            continue
        old = known.get(source)
        try:
            status = os.stat(path)
        except OSError:
            changed.add(source)  # read it, to report why it cannot be
            continue
        if _changed(old, status, max_bytes, functools.partial(_sha256, listing, source)):
            changed.add(source)
    removed = {s for s in known if s not in listed and s not in (SYNONYMS_FILE, SIDECAR_FILE)}
    return changed, removed


def _changed(old: FileState | None, status: os.stat_result, max_bytes: int, sha256: Callable[[], str]) -> bool:
    """Whether a file differs from what was read: unknown, not read then (too large), now too
    large, another size, or another modification time and another content hash."""
    if old is None or not old.sha256 or status.st_size > max_bytes or status.st_size != old.size:
        return True
    return old.mtime_ns != status.st_mtime_ns and sha256() != old.sha256


def _differs(old: FileState | None, path: os.PathLike[str] | None) -> bool:
    if old is None or path is None:
        return (old is None) != (path is None)
    try:
        status = os.stat(path)
    except OSError:
        return True
    return (old.size, old.mtime_ns) != (status.st_size, status.st_mtime_ns)


def _sha256(listing: Listing, source: str) -> str:
    try:
        with corpus.open_inside(listing.folder, source) as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return ""


def update(index: Index, listing: Listing, max_bytes: int) -> Index | None:
    """`index` brought up to date with the folder `listing` lists; None if nothing changed.
    Rebuild when only a full build can say what the index should be."""
    parts = index.parts
    changed, removed = changed_files(index, listing, max_bytes)
    sidecar_changed = _differs(parts.files.get(SIDECAR_FILE), dict((s, p) for p, s in listing.files).get(SIDECAR_FILE))
    if sidecar_changed:
        raise Rebuild(f"{SIDECAR_FILE} changed")
    folder = listing.folder
    problems: list[LoadProblem] = list(listing.problems)
    articles_listed = [s for _, s in listing.files if is_article(s)]
    problems.extend(
        LoadProblem(source=s, message=f"not one of {', '.join(corpus.ARTICLE_SUFFIXES)}")
        for _, s in listing.files
        if s not in (SYNONYMS_FILE, SIDECAR_FILE) and not is_article(s)
    )
    if not changed and not removed:
        unlisted = {p for p in parts.problems if p.source not in parts.files or p.source == SIDECAR_FILE}
        if unlisted == set(problems) | {p for p in parts.problems if p.source == SIDECAR_FILE}:
            return None  # the same files, and the same names skipped
    files: dict[str, FileState] = {s: f for s, f in parts.files.items() if s not in changed and s not in removed}
    pages = corpus.read_pages(folder, sorted(changed), problems, max_bytes, files)
    if SIDECAR_FILE in listing.sources:
        pages = corpus.sidecar_pages(folder, pages, problems, set(articles_listed), files)
    gone = changed | removed
    keys = {s: k for s, k in parts.keys.items() if s not in gone}
    new_keys = {p.source: corpus.document_keys(p) for p in pages}
    chrome = _chrome(keys, {s: parts.keys.get(s, ()) for s in gone}, new_keys, pages)
    keys.update(new_keys)

    catalog = parts.catalog
    old_articles = catalog.articles
    kept_articles = [a for a in old_articles if a.source not in gone]
    slugs = {a.slug for a in kept_articles}
    made: dict[str, tuple[Article, list[Passage]]] = {}
    for page in pages:
        result = corpus.article_of(page, chrome[page.source], slugs, problems)
        if result is not None:
            if result[0].slug != corpus._slug(page.source, set()):
                raise Rebuild(f"{page.source} shares its slug with another file")
            made[page.source] = result
    for a in kept_articles:
        if a.slug != corpus._slug(a.source, set()):
            raise Rebuild(f"{a.source} shares its slug with another file")  # its number may change
    keep_sources = {a.source for a in kept_articles}
    problems.extend(p for p in parts.problems if p.source in keep_sources or p.source == SYNONYMS_FILE)

    # The analyzer's facts: the gone documents' passages out, the new ones in.
    keep = np.fromiter((old_articles[a].source not in gone for a in catalog.article_of), dtype=bool, count=len(catalog))
    facts = CorpusFacts(parts.facts.capitals.copy(), parts.facts.lower_words.copy())
    for i in np.flatnonzero(~keep).tolist():
        facts.remove(text_facts(catalog[i].indexed_text))
    for _, passages in made.values():
        for p in passages:
            facts.add(text_facts(p.indexed_text), p.article.source)
    definitions = {g: d for g, d in parts.facts.definitions.items() if g not in gone} | facts.definitions
    articles = sorted([*kept_articles, *(m[0] for m in made.values())], key=_order)
    place = {a.source: i for i, a in enumerate(articles)}
    facts.definitions = dict(sorted(definitions.items(), key=lambda item: place.get(item[0], -1)))
    analyzer = facts.analyzer(acronyms_in(parts.synonyms))

    # Unchanged passages whose analysis the new analyzer changes are analysed again, as new ones.
    again = keep & _touched(index, parts.analyzer, analyzer)
    keep &= ~again
    if not articles:
        raise corpus.KnowledgeError(f"no usable article in {folder}")
    new_passages: list[Passage] = [p for _, ps in made.values() for p in ps]
    passages_again = [catalog[i] for i in np.flatnonzero(again).tolist()]
    added = [*passages_again, *new_passages]
    # Where each passage goes: articles in order, each article's passages in order.
    position = {a.source: i for i, a in enumerate(articles)}
    kept_at = np.flatnonzero(keep)
    kept_keys = [(position[old_articles[int(catalog.article_of[i])].source], int(i)) for i in kept_at.tolist()]
    added_keys = [(position[p.article.source], p.number) for p in added]
    # Within one article, passages keep their numbers: an old position orders as well as a number.
    firsts = {a: int(i) for a, i in _firsts(catalog).items()}
    kept_keys = [(art, i - firsts[int(catalog.article_of[i])] + 1) for (art, i) in kept_keys]
    order = np.lexsort(np.array([*kept_keys, *added_keys], dtype=np.int64).T[::-1])
    bm25 = index.bm25.updated(keep, [analyzer.terms(p.indexed_text) for p in added], order.astype(np.int32))
    all_passages = [*(catalog[i] for i in kept_at.tolist()), *added]
    new_catalog = Catalog.of(articles, [all_passages[i] for i in order.tolist()])
    new_parts = IndexParts(
        folder=folder,
        catalog=new_catalog,
        problems=corpus.in_order(problems),
        synonyms=parts.synonyms,
        analyzer=analyzer,
        bm25=bm25,
        version=version_of(index.params, parts.synonyms, new_catalog),
        files=files,
        keys={s: keys[s] for s in sorted(keys)},
        facts=facts,
    )
    return Index.restore(new_parts, index.min_relevance)


def _order(article: Article) -> tuple[str, ...]:
    return tuple(article.source.split("/"))  # visible_files' order: folder by folder


def _firsts(catalog: Catalog) -> dict[int, int]:
    changes = np.flatnonzero(np.diff(catalog.article_of, prepend=-1))
    return dict(zip(catalog.article_of[changes].tolist(), changes.tolist(), strict=True))


def _chrome(
    kept: dict[str, tuple[int, ...]],
    gone: dict[str, tuple[int, ...]],
    new: dict[str, tuple[int, ...]],
    pages: Sequence[corpus._Page],
) -> dict[str, frozenset[str]]:
    """Each new document's chrome (clean.shared_text): the paragraph keys held by three or more
    documents. Rebuild if a changed document's key is held by exactly two documents before or
    after, as whether it is chrome then depends on whether the two are copies of each other."""
    held = np.concatenate([np.array(k, dtype=np.uint64) for k in kept.values()] or [np.empty(0, np.uint64)])
    values, counts = np.unique(held, return_counts=True)
    touched = set().union(*gone.values(), *new.values()) if (gone or new) else set()
    before = {k: sum(k in set(ks) for ks in gone.values()) for k in touched}
    after = {k: sum(k in set(ks) for ks in new.values()) for k in touched}
    found = np.searchsorted(values, np.array(sorted(touched), dtype=np.uint64)) if touched else np.empty(0, int)
    others: dict[int, int] = {}
    for k, at in zip(sorted(touched), found.tolist(), strict=True):
        others[k] = int(counts[at]) if at < len(values) and int(values[at]) == k else 0
    for k in touched:
        total_before, total_after = others[k] + before[k], others[k] + after[k]
        if not ((total_before >= 3 and total_after >= 3) or (total_before <= 1 and total_after <= 1)):
            raise Rebuild("a changed document shares a paragraph with one or two others")
    chrome = {}
    for page in pages:
        chrome[page.source] = frozenset(
            clean.paragraph_key(b.text)
            for b in page.document.blocks
            if others[corpus.paragraph_hash(b.text)] + after[corpus.paragraph_hash(b.text)] >= 3
        )
    return chrome


def _touched(index: Index, old: Analyzer, new: Analyzer) -> npt.NDArray[np.bool_]:
    """Which passages the analyzer `new` may analyse differently from `old`: those whose text
    holds a word spelling an acronym one knows and the other does not, and those holding the first
    term of a long form that differs."""
    catalog = index.parts.catalog
    touched = np.zeros(len(catalog), dtype=bool)
    acronyms = sorted(old.acronyms ^ new.acronyms, key=len, reverse=True)
    if acronyms:
        words = "|".join(re.escape(a) for a in acronyms)
        pattern = re.compile(rf"(?<![A-Za-z])(?:{words.encode().decode()})".encode(), re.IGNORECASE)
        for blob, ends in ((catalog.text, catalog.text_ends), (catalog.headings, catalog.heading_ends)):
            data = blob.tobytes()
            at = [m.start() for m in pattern.finditer(data)]
            if at:
                touched[np.searchsorted(ends, np.array(at), side="right")] = True
            # NFKC can turn other characters into these letters: passages with any non-ASCII text too
            if re.search(rb"[\x80-\xff]", data):
                nonascii = [m.start() for m in re.finditer(rb"[\xef][\xbc\xbd]", data)]  # fullwidth forms
                if nonascii:
                    touched[np.searchsorted(ends, np.array(nonascii), side="right")] = True
    forms = set(old.long_forms.items()) ^ set(new.long_forms.items())
    for form, _ in forms:
        docs, _weights = index.bm25.postings(form[0])
        touched[docs] = True
    return touched
