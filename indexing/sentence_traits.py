"""Per-sentence traits the scorer uses as features, computed once at index time.

Word count, section category, whether the sentence has a number, a finding
cue or a stated quantity (``evsum.answer_type``), whether it points to a figure
or table (``evsum.text.cites_figure``), whether it ends like a finished sentence, and which sentence
finishes it when a page break cut it in two (``page_break_continuations``).  The snapshot writer stores
them as ``sentence_traits.npz`` beside ``meta.sqlite``, so opening an index
reads a few small arrays instead of running regular expressions over every
sentence (that took most of the cold start at 100k passages).  For snapshots
written before this file (or one of its traits) existed, the reader computes
the missing traits at load and writes the completed file back once. Each stored trait carries a
fingerprint of the regular expressions it was computed with: a trait whose definition has changed
since the snapshot was written counts as missing, so old and new snapshots never disagree about it.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from evsum.answer_type import QUANTITY_PATTERNS, states_quantity
from evsum.text import FIGURE_REFERENCE, WORD_PATTERN, cites_figure, word_count
from indexing.durable import replace_atomically

TRAITS_FILE = "sentence_traits.npz"
#: The arrays of ``TRAITS_FILE``; those an older snapshot lacks are computed at load and written back.
TRAIT_NAMES: tuple[str, ...] = ("words", "section", "has_number", "finding_cue", "complete", "quantity",
                                "figure_reference", "continuation", "aim_statement")

#: Section categories used as scorer features, matched on the section heading text.
SECTION_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("background", re.compile(r"background|introduction|objective|aim|purpose|context|rationale", re.I)),
    ("methods", re.compile(r"method|design|setting|participant|patients|material|procedure|measure", re.I)),
    ("results", re.compile(r"result|finding|outcome", re.I)),
    ("conclusions", re.compile(r"conclu|discussion|interpretation|implication|summary|recommendation", re.I)),
)
_NUMBER = re.compile(r"\d")
_FINDING_CUE = re.compile(
    r"\b(suggest|conclude|conclusion|indicate|demonstrate|associated with|significant|we found|show(?:s|ed)? that|"
    r"recommend|should|effective|increase[sd]?|decrease[sd]?|reduce[sd]?|improve[sd]?)\b",
    re.I,
)
_COMPLETE_END = re.compile(r"[.!?][)\]\"'’”]*(\s*\[[0-9,;\s–-]+\])?\.?$")
#: A clause closed by a semicolon, as the items of a guideline's bulleted recommendations are, is a statement
#: that can be quoted on its own when it has at least this many words (shorter ones are mostly list fragments).
_CLAUSE_END = re.compile(r";$")
CLAUSE_MIN_WORDS = 8
#: A sentence that states what a study set out to do, or how, rather than what it found.
_AIM_STATEMENT = re.compile(
    r"^(?:(?:Here|In this (?:study|work|paper|report|article)|In the (?:present|current) (?:study|work)),? we "
    r"(?:investigated|examined|analy[sz]ed|asked|sought|set out|aimed|explored|studied|tested|focus(?:ed)?|used|"
    r"employed|performed|addressed|evaluated|assessed|conducted|compared|investigate|examine|analy[sz]e|ask|explore|"
    r"study|test|use|employ|perform|address|evaluate|assess|conduct|compare)\b"
    r"|To this end\b"
    r"|We (?:aimed|sought|set out|wanted|wished) to\b"
    r"|(?:This|The present|The current|Our) (?:study|work|analysis|review|trial) (?:aimed|aims|sought|seeks|"
    r"was designed|is designed)\b"
    r"|The (?:aim|goal|purpose|objective)s? (?:of|in) (?:this|the present|the current|our)\b"
    r"|To (?:test|determine|investigate|examine|assess|address|explore|understand|evaluate|gain|identify|"
    r"characteri[sz]e|confirm|verify|validate|further|clarify|elucidate|define|establish|compare)\b)"
)
#: How a sentence cut by a page break ends: a hyphen, comma or opening bracket, or a word that cannot end one.
_RUNS_ON = re.compile(
    r"(?:[-,(/–]|\b(?:a|an|the|of|and|or|nor|to|in|into|for|with|by|on|at|from|as|than|that|which|who|whose|"
    r"is|are|was|were|be|been|not|but|between|per|its|their|our|this|these|such|including|both|either))$"
)
#: Roles that may stand between the two parts of a sentence cut by a page break (a caption or table placed
#: at the top of the next page); any other sentence in between (a heading) means the text does not run on.
_BETWEEN_PARTS = frozenset({"caption", "table"})


#: The regular expressions each trait is computed with: their fingerprint is stored beside the trait.
_DEFINITIONS: dict[str, tuple[str, ...]] = {
    "words": (WORD_PATTERN,),
    "section": tuple(f"{name}={pattern.pattern}" for name, pattern in SECTION_CATEGORIES),
    "has_number": (_NUMBER.pattern,),
    "finding_cue": (_FINDING_CUE.pattern,),
    "complete": (_COMPLETE_END.pattern, _CLAUSE_END.pattern, f"clause_min_words={CLAUSE_MIN_WORDS}", WORD_PATTERN),
    "quantity": QUANTITY_PATTERNS,
    "figure_reference": (FIGURE_REFERENCE.pattern,),
    "aim_statement": (_AIM_STATEMENT.pattern,),
    "continuation": (_RUNS_ON.pattern, *sorted(_BETWEEN_PARTS), _COMPLETE_END.pattern, _CLAUSE_END.pattern,
                     f"clause_min_words={CLAUSE_MIN_WORDS}", WORD_PATTERN,
                     "head incomplete, tail complete, tail on the next page, lower-case tail or run-on head"),
}


@dataclass(frozen=True, slots=True)
class SentenceRows:
    """What the traits are computed from: the text, section, page, role and document of every sentence of a
    snapshot, in id order (row i = sentence i)."""

    texts: Sequence[str]
    sections: Sequence[str | None]
    pages: Sequence[int]
    roles: Sequence[str]
    documents: Sequence[str]


def trait_fingerprint(name: str) -> str:
    """SHA-256 (first 16 hex digits) of the regular expressions that trait ``name`` is computed with."""
    return hashlib.sha256("\n".join(_DEFINITIONS[name]).encode("utf-8")).hexdigest()[:16]


def _fingerprint_key(name: str) -> str:
    return f"fingerprint_{name}"


def is_complete_sentence(text: str) -> bool:
    """Ends like a finished sentence (., ! or ?, maybe closed by brackets, quotes or a citation), or is a
    clause of at least ``CLAUSE_MIN_WORDS`` words closed by a semicolon (a bulleted recommendation).

    Layout fragments ("The intake of free sugars should") and list lead-ins ("... include:")
    are kept for search but never quoted as a summary sentence.
    """
    stripped = text.strip()
    if _COMPLETE_END.search(stripped):
        return True
    return bool(_CLAUSE_END.search(stripped)) and word_count(stripped) >= CLAUSE_MIN_WORDS


def page_break_continuations(rows: SentenceRows) -> np.ndarray:
    """For each sentence, the id of the sentence that finishes it across a page break, else -1.

    A body sentence that does not end like a finished sentence on one page, followed (past any caption or table)
    by the document's next body sentence at the top of the next page, is one sentence cut in two when that next
    one ends like a finished sentence and either starts in lower case or follows a first part that ends on a
    hyphen, comma, bracket or a word no sentence ends with ("... recommended by the CDC and the World Health
    Organization (WHO)" / "because of its activity against ..."). The parser joins blocks cut by columns within a
    page, never across pages; the summariser quotes both parts together.
    """
    texts, pages, roles, documents = rows.texts, rows.pages, rows.roles, rows.documents
    result = np.full(len(texts), -1, dtype=np.int64)
    for head in range(len(texts)):
        if roles[head] != "body" or is_complete_sentence(texts[head]):
            continue
        tail = head + 1
        while tail < len(texts) and documents[tail] == documents[head] and roles[tail] in _BETWEEN_PARTS:
            tail += 1
        if (tail >= len(texts) or documents[tail] != documents[head] or roles[tail] != "body"
                or pages[tail] != pages[head] + 1):
            continue
        first, last = texts[tail].lstrip()[:1], texts[head].rstrip()
        if is_complete_sentence(texts[tail]) and (first.islower() or _RUNS_ON.search(last)):
            result[head] = tail
    return result


def section_category(section: str | None) -> int:
    """1-based index into ``SECTION_CATEGORIES`` for a section heading, 0 when none matches."""
    if section:
        for code, (_, pattern) in enumerate(SECTION_CATEGORIES, start=1):
            if pattern.search(section):
                return code
    return 0


def sentence_traits(rows: SentenceRows, names: Sequence[str] = TRAIT_NAMES) -> dict[str, np.ndarray]:
    """The trait arrays of sentences (row i = sentence i), keyed as stored in ``TRAITS_FILE``.

    ``names`` limits the work to some traits (a snapshot that stored all but a newer one).
    """
    texts, sections = rows.texts, rows.sections
    compute: dict[str, Callable[[], np.ndarray]] = {
        "words": lambda: np.array([word_count(t) for t in texts], dtype=np.int32),
        "section": lambda: np.array([section_category(s) for s in sections], dtype=np.int8),
        "has_number": lambda: np.array([bool(_NUMBER.search(t)) for t in texts], dtype=bool),
        "finding_cue": lambda: np.array([bool(_FINDING_CUE.search(t)) for t in texts], dtype=bool),
        "complete": lambda: np.array([is_complete_sentence(t) for t in texts], dtype=bool),
        "quantity": lambda: np.array([states_quantity(t) for t in texts], dtype=bool),
        "figure_reference": lambda: np.array([cites_figure(t) for t in texts], dtype=bool),
        "continuation": lambda: page_break_continuations(rows),
        "aim_statement": lambda: np.array([bool(_AIM_STATEMENT.search(t)) for t in texts], dtype=bool),
    }
    return {name: compute[name]() for name in names}


def write_traits(path: Path, rows: SentenceRows) -> None:
    """Compute and store the traits of every sentence of a snapshot."""
    save_traits(path, sentence_traits(rows))


def save_traits(path: Path, traits: Mapping[str, np.ndarray]) -> None:
    """Store trait arrays, each with its fingerprint, atomically: a reader sees the old file or the new one,
    never part of one."""
    arrays = {**traits, **{_fingerprint_key(name): np.array(trait_fingerprint(name)) for name in traits}}
    replace_atomically(path, lambda handle: np.savez(handle, **arrays))  # type: ignore[arg-type]


def read_traits(path: Path, n_sentences: int) -> dict[str, np.ndarray]:
    """The stored traits of ``TRAIT_NAMES`` whose fingerprint matches today's definition; empty when the file is
    absent (an older snapshot) or does not match the snapshot's sentences.

    A file written before a trait was added, or before its definition changed (or before fingerprints were
    stored), holds the others, which are returned; the caller computes only the missing ones. A damaged file
    counts as absent.
    """
    if not path.is_file():
        return {}
    try:
        with np.load(path) as stored:
            traits = {name: stored[name] for name in TRAIT_NAMES
                      if name in stored.files and _fingerprint_key(name) in stored.files
                      and str(stored[_fingerprint_key(name)]) == trait_fingerprint(name)}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # damaged: the reader recomputes it
        return {}
    if any(len(values) != n_sentences for values in traits.values()):
        return {}
    return traits
