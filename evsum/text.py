"""Text helpers shared by indexing and querying: one tokenizer for BM25 on both sides."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Sequence

_WORD = re.compile(r"\w+", re.UNICODE)
#: What ``word_count`` counts (part of the stored sentence traits' fingerprint).
WORD_PATTERN = _WORD.pattern
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"

#: A pointer to a figure, table, box or annex: "(Fig. 6b)", "(fig. S1)", "Supplementary Table 2", "Box 4",
#: "Extended Data Fig. 3". Results sections point to the figure that shows each finding.
#: The number must follow a dot or a space, so that names like the yeast FIG1 gene or a "Box1" label do not count.
FIGURE_REFERENCE = re.compile(
    r"\b(?:Fig(?:ure)?s?|Tables?|Boxe?s?|Annex(?:es)?|Supp(?:lementary|l\.?)?\s+(?:Fig(?:ure)?s?|Tables?)"
    r"|Extended\s+Data(?:\s+Fig(?:ure)?s?)?)(?:\.\s*|\s+)S?\d+[A-Za-z]?",
    re.IGNORECASE,
)


def cites_figure(text: str) -> bool:
    """Whether the text points to a figure, table, box or annex (``FIGURE_REFERENCE``)."""
    return bool(FIGURE_REFERENCE.search(text))


def word_count(text: str) -> int:
    """Number of word tokens in ``text`` (letters or digits)."""
    return len(_WORD.findall(text))


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer  # PyStemmer: Snowball stemmers in C

    return Stemmer.Stemmer("english")


def bm25_tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-case, drop English stop words and stem: the BM25 analyser for index and query."""
    import bm25s

    tokens = bm25s.tokenize(
        list(texts),
        stopwords="en",
        stemmer=_stemmer().stemWords,
        return_ids=False,
        show_progress=False,
        token_pattern=_TOKEN_PATTERN,
    )
    return [list(t) for t in tokens]


def squash(text: str) -> str:
    """``text`` in lower case with everything but letters, digits and underscores removed."""
    return re.sub(r"\W+", "", text.lower())
