"""Abbreviations defined in a document, and the search text that spells them out.

Papers define a term once ("doxorubicin (Dox)", "elastin-like polypeptide (ELP)")
and then use the short form, while a reader's question uses the long form
("...after doxorubicin treatment"). Lexical search then misses the very
sentence that states the finding. Each document's definitions are found with
the algorithm of Schwartz and Hearst (2003), the standard baseline of
biomedical abbreviation detection: a short form in parentheses, and a long
form among the words just before it whose characters contain the short form's
characters in order, the first one starting a word.

Only the BM25 search text is expanded (document expansion): a sentence that
uses a short form gets the document's long form appended for BM25. The quoted
text, its offsets and the dense vectors are unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

_PARENTHESIS = re.compile(r"\(([^()]{1,20})\)")
_FUNCTION_WORDS = frozenset(
    ["a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to", "with"]
)
_CLAUSE_BREAK = re.compile(r"[.;:!?]\s|[()\[\]]")
#: Parenthesised text that is not a short form: references, statistics, figure and table labels,
#: point mutations ("G12C"), capitalised words ("Promega") and phrases with a lower-case word ("RNA seq").
_NOT_SHORT_FORM = re.compile(
    r"(?i:(?:figs?|figures?|tables?|see|e\.g|i\.e|refs?|ca|approx)\b\.?.*|n\s*=.*|p\s*[<=>≤].*)"
    r"|[\d.,\s–-]+[a-z]?|[A-Z]\d+[A-Z]|[A-Z][a-z]{4,}|.*\b[a-z]{3,}\b.*"
)


def _is_short_form(candidate: str) -> bool:
    """Schwartz–Hearst short-form test, plus the clear non-abbreviations of scientific text."""
    if not 2 <= len(candidate) <= 10 or len(candidate.split()) > 2:
        return False
    if not candidate[0].isalnum() or not re.search(r"[A-Za-z]", candidate) or "/" in candidate:
        return False
    if re.fullmatch(r"[a-z]+", candidate):  # an ordinary lower-case word: "(dipyrone)", "(ref)"
        return False
    return not _NOT_SHORT_FORM.fullmatch(candidate)


def _long_form(short: str, words_before: str) -> str | None:
    """The shortest tail of ``words_before`` that contains the short form's characters in order.

    Matching runs backwards over letters and digits, one character at a time (so
    that lower-casing never shifts a position); the short form's first character
    must start a word of the long form.
    """
    s, t = len(short) - 1, len(words_before) - 1
    while s >= 0:
        char = short[s].lower()
        if not char.isalnum():
            s -= 1
            continue
        while t >= 0 and (words_before[t].lower() != char
                          or (s == 0 and t > 0 and words_before[t - 1].isalnum())):
            t -= 1
        if t < 0:
            return None
        s -= 1
        t -= 1
    start = words_before.rfind(" ", 0, t + 1) + 1
    return words_before[start:].strip()


def _plausible_long_form(short: str, long: str) -> bool:
    """Reject the algorithm's typical misses.

    As in Schwartz–Hearst: a long form no longer than its short form, or one that contains
    it as a word or ends with it. Added here: one that starts with a lower-case function word
    ("in the same patch (IC)"; "The Cancer Genome Atlas (TCGA)" is kept), one with digits when the
    short form has none ("vivo with 0.01% (v/v)"), and e-mail or web addresses.
    """
    lowered, short_lower = long.lower(), short.lower()
    if len(long) <= len(short) or short_lower in lowered.split() or lowered.endswith(short_lower):
        return False
    first, *rest = long.split()
    content_words = [w for w in rest if w.lower() not in _FUNCTION_WORDS]
    if first.lower() in _FUNCTION_WORDS and not (first[0].isupper() and all(w[0].isupper() for w in content_words)):
        return False
    if "@" in long or "://" in long:
        return False
    return not (re.search(r"\d", long) and not re.search(r"\d", short))


def find_definitions(text: str) -> dict[str, str]:
    """Short form → long form for every "long form (SF)" definition in ``text`` (first definition wins)."""
    definitions: dict[str, str] = {}
    for match in _PARENTHESIS.finditer(text):
        short = re.split(r"[;,]", match.group(1))[0].strip()
        if short in definitions or not _is_short_form(short):
            continue
        characters = sum(c.isalnum() for c in short)
        max_words = min(characters + 5, 2 * characters)
        clause = _CLAUSE_BREAK.split(text[max(0, match.start() - 300):match.start()])[-1]
        words = clause.split()[-max_words:]
        if not words:
            continue
        long = _long_form(short, " ".join(words))
        if long is None or not _plausible_long_form(short, long):
            continue
        definitions.setdefault(_singular(short, long), long)
    return definitions


def _singular(short: str, long: str) -> str:
    """"SNPs" → "SNP" when the long form is plural too, so that the singular matches (the pattern allows an "s")."""
    plural = len(short) > 2 and short.endswith("s") and short[-2].isupper() and long.endswith("s")
    return short[:-1] if plural else short


def _short_form_pattern(definitions: Mapping[str, str]) -> re.Pattern[str] | None:
    if not definitions:
        return None
    alternatives = "|".join(re.escape(s) for s in sorted(definitions, key=len, reverse=True))
    return re.compile(r"(?<!\w)(" + alternatives + r")s?(?!\w)")  # "MMS-treated" counts


def search_texts(texts: Sequence[str], definitions: Mapping[str, str]) -> list[str]:
    """``texts`` with the long form of every short form they use appended (when not already there)."""
    pattern = _short_form_pattern(definitions)
    if pattern is None:
        return list(texts)
    expanded = []
    for text in texts:
        lowered = text.lower()
        longs = dict.fromkeys(definitions[m.group(1)] for m in pattern.finditer(text))
        extra = [long for long in longs if long.lower() not in lowered]
        expanded.append(text + " " + " ".join(extra) if extra else text)
    return expanded


def document_definitions(texts: Iterable[str]) -> dict[str, str]:
    """The definitions of one document, found in its texts (joined in order)."""
    return find_definitions(" ".join(texts))
