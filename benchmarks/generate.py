"""Generate a realistic synthetic knowledge folder, and questions that it answers.

    python benchmarks/generate.py --passages 100000 --out /tmp/kb-100k [--seed 1] [--questions 500]

The folder looks like scraped news pages: one article per `.txt` file, 1,000 or so files per
subfolder; each file is a headline, sometimes a section label, a publication line and "Share
this article" furniture (which the bot's cleaning removes), then paragraphs of one to six
sentences. The bot's passage splitter groups the paragraphs into passages of 40-180 words and
at most 1,000 characters; the generator follows the same rule while writing, so that every
article yields 2-8 passages (the last of a subfolder may have 1) and the folder exactly the
requested number (check it by loading: `benchmarks/engine.py` reports the count it found).

Words are drawn from a Zipf-Mandelbrot distribution over 1.2 million words: the head is
real English and NHS/local-government vocabulary in roughly news-frequency order (stop words,
inflected forms that stem together, acronyms such as NHS, CCGs and A&E, and definitions such as
"clinical commissioning groups (CCGs)"); figures ("2017-18", "£5.7 billion", "36%", "thirty
per cent") and synthetic acronyms are spread through the middle ranks; the long tail is made-up
pronounceable words, some capitalised like names, some hyphenated, some inflected.

`_questions.json` holds questions made of 2-4 words from randomly chosen passages (so each has
an answer, named by file and passage number; "policy" fills a template's slot when the passage
has too few words to choose from); `_manifest.json` records what was asked for. Both
start with `_`, so the bot's loader ignores them. The output depends only on the arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

# The passage rule of bot/passages.py (a passage is whole paragraphs, at most MAX_WORDS words and
# MAX_CHARS characters; a passage under MIN_WORDS words takes the next paragraph if it fits).
MIN_WORDS, MAX_WORDS, MAX_CHARS = 40, 180, 1000
SEPARATOR_CHARS = 2  # "\n\n" between paragraphs of a passage
PASSAGES_PER_FOLDER = 5_000  # about 1,000 article files per subfolder
VOCABULARY_SIZE = 1_200_000
ZIPF_S, ZIPF_Q = 1.15, 2.7  # p(rank r) ~ 1 / (r + q)^s
COMMA_RATE = 0.06

# Real words, roughly in the order of their frequency in UK news. Function words first: they
# are interleaved with the content words below so that the head of the ranking looks like news.
FUNCTION_WORDS = """
the of to and a in that is for on said with was as it be by at from he has have are will an not
but this which they his would were who had been its their more also there or can about one after
up all than could other new out some into if when so what over them only most our may just no
many these such we her she him those two first do should any because while before between both
where how being through under against during each three four five per very then own same well
you me us my your did does must might shall cannot until within without across around among
""".split()
CONTENT_WORDS = """
NHS council councils government health care local services service social England authority
authorities funding budget report year years plan plans system systems public trust trusts
national hospital hospitals patients staff director chief executive commissioning commissioners
clinical CCGs groups group spending cost costs million billion pressures pressure financial
finance integrated provider providers community primary adult adults children child education
schools housing planning policy policies review department secretary minister ministers sector
needs support areas area number increase increased reduce reduced cuts savings workforce
nurses doctors GPs practice practices mental transformation partnership partnerships board
boards committee sustainability strategy strategic delivery deliver improvement improve
improved improving quality performance targets target waiting times emergency admissions beds
discharge residential nursing homes home market contracts contract procurement tender framework
guidance legislation reform reforms devolution devolved combined mayor mayors region regional
county district borough unitary metropolitan city parliament inquiry evidence data analysis
audit office watchdog regulator inspection inspectors rating ratings outstanding inadequate
requires risk risks deficit deficits overspend overspent overspending underspend reserves
capital revenue grant grants allocation allocations formula settlement tax precept levy
business rates income charges fees prevention wellbeing outcomes inequalities population demand
growth older disabled learning disabilities autism transport highways waste libraries leisure
environment climate carbon economic jobs employment skills apprenticeships leaders leadership
chair chairman chairwoman councillor councillors cabinet member members officers officer
association survey respondents per cent percent proportion majority minority half third quarter
NAO LGA CQC DHSC ICS ICSs STPs A&E GP ICBs PCTs NICE UK
commission commissioned commissioner fund funded funds funding-related plan planned spend spends
spent integrate integration integrating provide provided providing provision assess assessed
assessment assessments manage managed management managers merge merged merger mergers
recruit recruited recruitment retain retention retained train trained training develop developed
development developing operate operating operational agree agreed agreement warn warned warning
warnings publish published publication announce announced announcement consult consulted
consultation respond responded response responses expect expected expecting face faced facing
continue continued continuing rise rose rising fall fell falling grow grew growing cut cutting
close closed closure closures open opened opening pay paid paying sell sold build built
Integrated-care ring-fenced long-term short-term cross-party face-to-face value-for-money
council's government's NHS's minister's department's children's people's
thirty-six twenty-five forty-two
""".split()
# Phrases that define an acronym, as articles do ("clinical commissioning groups (CCGs)").
DEFINITIONS = [
    "clinical commissioning groups (CCGs)",
    "Integrated Care Systems (ICSs)",
    "sustainability and transformation partnerships (STPs)",
    "the National Audit Office (NAO)",
    "the Local Government Association (LGA)",
    "the Care Quality Commission (CQC)",
    "integrated care boards (ICBs)",
    "primary care trusts (PCTs)",
    "the Department of Health and Social Care (DHSC)",
    "special educational needs and disabilities (SEND)",
    "directors of adult social services (ADASS)",
    "the Chartered Institute of Public Finance and Accountancy (CIPFA)",
]
SYNONYMS = """\
# Synonyms for the generated knowledge folder (the format of knowledge/synonyms.txt).
councils = local authorities = local authority
GPs = general practitioners = family doctors
procurement = purchasing = buying
ringfenced = ring-fenced = protected
devolve = devolution = devolved
start = started = set up = launched
improve = improved = better
"""
LABELS = ["NEWS", "ANALYSIS", "SPOTLIGHT", "COMMENT", "FEATURE"]
CHROME = ["Share this article", "Sign up to our free daily newsletter for the latest news"]
MONTHS = "January February March April May June July August September October November December".split()

_ONSETS = "b c d f g h j k l m n p r s t v w z br ch cl cr dr fl gr pl pr sh st th tr sk sp".split()
_VOWELS = "a e i o u a e i o ai ea ou".split()
_CODAS = ["", "", "", "n", "r", "l", "s", "t", "m", "nd", "st", "rk"]
_SUFFIXES = ["s", "ed", "ing", "ation", "al", "ly", "er", "ers", "ment", "ity"]

QUESTION_TEMPLATES = [
    "What did the report say about {0} and {1}?",
    "How much {0} {1} was there in {2}?",
    "Why are {0} {1}?",
    "When will the {0} {1} be {2}?",
    "{0} {1} {2}",
    "Which {0} have {1} {2}?",
    "What is the latest on {0} {1}?",
    "Has anyone looked at {0} for {1} {2}?",
    "Is there guidance on {0} {1} {2} {3}?",
    "What happened to {0} {1} after {2}?",
]
KIND_FUNCTION, KIND_WORD, KIND_SPECIFIC, KIND_DEFINITION = 0, 1, 2, 3


@lru_cache(maxsize=1)
def head() -> tuple[list[str], list[int]]:
    """The real words at the top of the ranking and their kinds, function words interleaved."""
    ranked = [(i * 0.5, w, KIND_FUNCTION) for i, w in enumerate(dict.fromkeys(FUNCTION_WORDS))]
    ranked += [(12 + i * 1.5, w, KIND_WORD) for i, w in enumerate(dict.fromkeys(CONTENT_WORDS))]
    ranked.sort(key=lambda r: r[0])
    return [w for _, w, _ in ranked], [k for _, _, k in ranked]


@lru_cache(maxsize=1)
def specials() -> dict[int, tuple[str, int]]:
    """Figures, acronyms and acronym definitions, at fixed ranks in the middle of the ranking."""
    rng = np.random.default_rng(20240601)  # fixed: the vocabulary does not depend on --seed
    entries: list[tuple[str, int]] = [(d, KIND_DEFINITION) for d in DEFINITIONS]
    for _ in range(1500):
        kind = rng.integers(8)
        if kind == 0:
            text = str(rng.integers(1995, 2031))
        elif kind == 1:
            y = int(rng.integers(2005, 2031))
            text = f"{y}-{(y + 1) % 100:02d}"
        elif kind == 2:
            text = f"{rng.integers(1, 100)}%" if rng.random() < 0.7 else f"{rng.integers(1, 100)}.{rng.integers(10)}%"
        elif kind == 3:
            text = f"£{rng.integers(1, 999)}m"
        elif kind == 4:
            text = f"£{rng.integers(1, 30)}.{rng.integers(10)} billion"
        elif kind == 5:
            text = f"{rng.integers(1, 100)} per cent"
        elif kind == 6:
            text = f"{rng.integers(1, 60)},{rng.integers(1000):03d}"
        else:
            text = f"{MONTHS[rng.integers(12)]} {rng.integers(2010, 2031)}"
        entries.append((text, KIND_SPECIFIC))
    for _ in range(600):  # made-up acronyms, some defined in full
        letters = "".join(chr(65 + int(c)) for c in rng.integers(26, size=int(rng.integers(2, 5))))
        entries.append((letters, KIND_SPECIFIC))
        if rng.random() < 0.3:
            words = [synthetic(int(rng.integers(10**6)), initial=c.lower()).capitalize() for c in letters]
            entries.append((f"the {' '.join(words)} ({letters})", KIND_DEFINITION))
    # Log-uniform ranks from just below the real words to 200,000: a few frequent, most rare.
    ranks = np.exp(rng.uniform(np.log(len(head()[0]) + 20), np.log(200_000), size=len(entries))).astype(np.int64)
    placed: dict[int, tuple[str, int]] = {}
    for rank, entry in zip(ranks.tolist(), entries, strict=True):
        while rank in placed:
            rank += 1
        placed[rank] = entry
    return placed


def synthetic(n: int, initial: str = "") -> str:
    """A made-up pronounceable word, a pure function of n (and of its first letter, if given)."""
    x = (n * 2_654_435_761 + 97) % 4_294_967_291
    syllables = 2 + (x % 5 == 0)
    parts = []
    for i in range(syllables):
        x, a = divmod(x, len(_ONSETS))
        x, v = divmod(x, len(_VOWELS))
        x, c = divmod(x, len(_CODAS))
        onset = _ONSETS[a]
        if i == 0 and initial:
            onset = initial if initial in "aeiou" else initial + ("r" if a % 3 == 0 and initial in "bcdfgpt" else "")
        parts.append(onset + _VOWELS[v] + (_CODAS[c] if i == syllables - 1 else ""))
    return "".join(parts)


_WORDS: dict[int, tuple[str, int]] = {}  # per process: a worker keeps it from folder to folder


def word(rank: int) -> tuple[str, int]:
    """The word at `rank` (0 is the most frequent) and its kind."""
    found = _WORDS.get(rank)
    if found is None:
        found = _WORDS[rank] = _make_word(rank)
    return found


def _make_word(rank: int) -> tuple[str, int]:
    words, kinds = head()
    if rank < len(words):
        return words[rank], kinds[rank]
    special = specials().get(rank)
    if special is not None:
        return special
    base = synthetic(rank)
    r = rank % 100
    if r < 25:  # inflected forms of a more frequent word: stemming joins them
        base = synthetic(rank // 3) + _SUFFIXES[rank % len(_SUFFIXES)]
    elif r < 33:  # names
        base = base.capitalize()
    elif r < 35:
        base = f"{base}-{synthetic(rank // 7)}"
    return base, KIND_WORD


@lru_cache(maxsize=1)
def cdf() -> np.ndarray:
    weights = 1.0 / (np.arange(VOCABULARY_SIZE, dtype=np.float64) + 1 + ZIPF_Q) ** ZIPF_S
    cumulative = np.cumsum(weights)
    return cumulative / cumulative[-1]


def parse_size(text: str) -> int:
    """'1k' -> 1000, '1M' -> 1000000, '2500' -> 2500."""
    scale = {"k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}
    if text and text[-1] in scale:
        return int(float(text[:-1]) * scale[text[-1]])
    return int(text)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def generator_version() -> str:
    """Changes whenever this file does, so cached folders are not reused across versions."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:10]


class _Stream:
    """Random draws in bulk (numpy), handed out one at a time (Python ints)."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16) -> None:
        self.rng = rng
        self.block = block
        self.codes: list[int] = []  # word rank * 2 + (1 if a comma follows)
        self.pos = 0
        self.forms: dict[int, str] = {}
        self.kinds: dict[int, int] = {}  # by rank
        self.small: list[int] = []
        self.spos = 0

    def tokens(self, n: int) -> list[int]:
        if self.pos + n > len(self.codes):
            ranks = np.searchsorted(cdf(), self.rng.random(self.block), side="right")
            commas = self.rng.random(self.block) < COMMA_RATE
            codes = ranks * 2 + commas
            for rank in np.unique(ranks).tolist():
                if rank not in self.kinds:
                    text, self.kinds[rank] = word(rank)
                    self.forms[2 * rank], self.forms[2 * rank + 1] = text, text + ","
            self.codes = self.codes[self.pos :] + codes.tolist()
            self.pos = 0
        out = self.codes[self.pos : self.pos + n]
        self.pos += n
        return out

    def uniform(self) -> int:
        """A random int in [0, 10000)."""
        if self.spos >= len(self.small):
            self.small = self.rng.integers(10_000, size=self.block).tolist()
            self.spos = 0
        self.spos += 1
        return self.small[self.spos - 1]

    def between(self, lo: int, hi: int) -> int:
        """A random int in [lo, hi]."""
        return lo + self.uniform() % (hi - lo + 1)


def _sentence(stream: _Stream, length: int) -> tuple[str, list[int]]:
    codes = stream.tokens(length)
    words = [stream.forms[c] for c in codes]
    words[-1] = words[-1].rstrip(",")
    first = words[0]
    words[0] = first[0].upper() + first[1:]
    text = " ".join(words) + "."
    if stream.uniform() < 600:  # a quotation
        text = f"\u201c{text[:-1]},\u201d the {stream.forms[stream.tokens(1)[0] & ~1]} said."
    return text, codes


def _paragraph(stream: _Stream) -> tuple[str, list[int]]:
    roll = stream.uniform()  # news paragraphs: mostly one to three sentences, some long ones
    sentences = 1 if roll < 2500 else 2 if roll < 6000 else 3 if roll < 8000 else 4 if roll < 9000 else 6
    texts: list[str] = []
    codes: list[int] = []
    chars = words = 0
    for _ in range(sentences):
        text, sentence_codes = _sentence(stream, stream.between(8, 30))
        n_words = text.count(" ") + 1
        if texts and (chars + 1 + len(text) > MAX_CHARS - 100 or words + n_words > MAX_WORDS - 10):
            break
        texts.append(text)
        codes.extend(sentence_codes)
        chars += len(text) + (1 if len(texts) > 1 else 0)
        words += n_words
    return " ".join(texts), codes


def _headline(stream: _Stream) -> str:
    words: list[str] = []
    n_words = n_chars = 0
    for code in stream.tokens(stream.between(5, 12)):
        text = stream.forms[code & ~1]
        n_words, n_chars = n_words + text.count(" ") + 1, n_chars + len(text) + 1
        if words and (n_words > 16 or n_chars > 120):
            break  # a headline is short: bot.clean looks for one of at most 25 words and 200 characters
        words.append(text)
    words[0] = words[0][0].upper() + words[0][1:]
    return " ".join(words)


@dataclass
class FolderResult:
    files: int = 0
    passages: int = 0
    words: int = 0
    questions: list[dict[str, object]] = field(default_factory=list)


def _question(stream: _Stream, codes: list[int], source: str, number: int) -> dict[str, object]:
    """A question built from words of one passage: 2-4 of its words other than function words,
    including one specific word (a rare word, an acronym or a figure) when it has one."""
    candidates = list(dict.fromkeys(c & ~1 for c in codes if stream.kinds[c >> 1] in (KIND_WORD, KIND_SPECIFIC)))
    specific = [c for c in candidates if stream.kinds[c >> 1] == KIND_SPECIFIC or (c >> 1) > 5_000]
    template = QUESTION_TEMPLATES[stream.uniform() % len(QUESTION_TEMPLATES)]
    slots = template.count("{")
    chosen: list[int] = []
    if specific:
        chosen.append(specific[stream.uniform() % len(specific)])
    while len(chosen) < min(slots, len(candidates)):
        c = candidates[stream.uniform() % len(candidates)]
        if c not in chosen:
            chosen.append(c)
    turn = stream.uniform() % max(len(chosen), 1)  # the specific word is not always first
    words = [stream.forms[c] for c in chosen[turn:] + chosen[:turn]]
    words += ["policy"] * (slots - len(words))
    return {"question": template.format(*words), "source": source, "passage": number}


def _generate_folder(job: tuple[Path, int, int, int, list[int]]) -> FolderResult:
    """Write one subfolder of articles holding exactly `passages` passages."""
    out, seed, index, passages, question_at = job
    stream = _Stream(np.random.default_rng([seed, index]))
    folder = out / f"d{index:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    result = FolderResult()
    wanted = set(question_at)
    made = 0  # passages written so far in this folder
    while made < passages:
        target = min(stream.between(2, 8), passages - made)
        paragraphs: list[str] = []
        paragraph_codes: list[list[int]] = []
        groups: list[list[int]] = []  # per passage, the indices of its paragraphs
        words_of: list[int] = []
        current: list[int] = []
        cur_words = cur_chars = 0
        # Mirror bot.passages.split_passages: a paragraph joins the current passage if both fit
        # together, or if the current one is still under MIN_WORDS and the result fits in chars.
        while True:
            text, codes = _paragraph(stream)
            n_words, n_chars = text.count(" ") + 1, len(text)
            joined_chars = cur_chars + SEPARATOR_CHARS + n_chars
            if current and (
                (cur_words + n_words <= MAX_WORDS and joined_chars <= MAX_CHARS)
                or (cur_words < MIN_WORDS and joined_chars <= MAX_CHARS)
            ):
                current.append(len(paragraphs))
                cur_words, cur_chars = cur_words + n_words, joined_chars
            elif current:
                groups.append(current)
                words_of.append(cur_words)
                if len(groups) == target:
                    break  # this paragraph would open one passage too many: leave it out
                current, cur_words, cur_chars = [len(paragraphs)], n_words, n_chars
            else:
                current, cur_words, cur_chars = [len(paragraphs)], n_words, n_chars
            paragraphs.append(text)
            paragraph_codes.append(codes)
        name = f"{result.files:05d}_{stream.uniform():04d}{stream.uniform():04d}.txt"
        source = f"{folder.name}/{name}"
        for number, group in enumerate(groups, 1):
            if made + number - 1 in wanted:
                codes = [c for i in group for c in paragraph_codes[i]]
                result.questions.append(_question(stream, codes, source, number))
        lines = []
        if stream.uniform() < 3000:
            lines.append(LABELS[stream.uniform() % len(LABELS)])
        lines.append(_headline(stream))
        day, month, year = stream.between(1, 28), MONTHS[stream.uniform() % 12], stream.between(2010, 2024)
        lines.append(f"Published {day} {month} {year}")
        lines.extend(paragraphs)
        if stream.uniform() < 5000:
            lines.append(CHROME[stream.uniform() % len(CHROME)])
        (folder / name).write_text("\n\n".join(lines) + "\n", encoding="utf-8")
        result.files += 1
        result.passages += len(groups)
        result.words += sum(words_of)
        made += len(groups)
    return result


def generate(
    out: Path, passages: int, seed: int = 1, questions: int = 500, jobs: int | None = None
) -> dict[str, object]:
    """Write the knowledge folder to `out` (replacing it) and return its manifest."""
    if passages < 2:
        raise ValueError("need at least 2 passages")
    started = time.perf_counter()
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    budgets = [PASSAGES_PER_FOLDER] * (passages // PASSAGES_PER_FOLDER)
    if passages % PASSAGES_PER_FOLDER:
        budgets.append(passages % PASSAGES_PER_FOLDER)
    rng = np.random.default_rng([seed, 7])
    picked = np.sort(rng.choice(passages, size=questions, replace=questions > passages)).tolist()
    per_folder: list[list[int]] = [[] for _ in budgets]
    for g in picked:
        per_folder[g // PASSAGES_PER_FOLDER].append(g % PASSAGES_PER_FOLDER)
    job_list = [(tmp, seed, i, n, per_folder[i]) for i, n in enumerate(budgets)]
    cdf(), head(), specials()  # built once, before the workers fork
    jobs = jobs or min(len(job_list), os.cpu_count() or 1)
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(_generate_folder, job_list, chunksize=1)
    else:
        results = [_generate_folder(job) for job in job_list]
    all_questions = [q for r in results for q in r.questions]
    order = np.random.default_rng([seed, 8]).permutation(len(all_questions)).tolist()
    manifest: dict[str, object] = {
        "passages": sum(r.passages for r in results),
        "requested_passages": passages,
        "files": sum(r.files for r in results),
        "folders": len(results),
        "words": sum(r.words for r in results),
        "questions": len(all_questions),
        "seed": seed,
        "generator": generator_version(),
        "seconds": round(time.perf_counter() - started, 2),
    }
    (tmp / "synonyms.txt").write_text(SYNONYMS, encoding="utf-8")
    (tmp / "_questions.json").write_text(json.dumps([all_questions[i] for i in order], indent=1), encoding="utf-8")
    (tmp / "_manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", required=True, help="how many passages: 1000, 10k, 1M...")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--questions", type=int, default=500, help="how many questions to write (default 500)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    args = parser.parse_args()
    manifest = generate(args.out, parse_size(args.passages), args.seed, args.questions, args.jobs)
    print(
        f"wrote {args.out}: {manifest['passages']:,} passages in {manifest['files']:,} articles "
        f"({manifest['words']:,} words), {manifest['questions']} questions, in {manifest['seconds']} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
