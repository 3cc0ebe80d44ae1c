"""Expected answer type: does a question ask for a quantity, and does a sentence state one?

Clinicians often ask for one number inside a long document ("Above what daily
dose...", "How much slower...", "What percentage..."). The sentence that
answers such a question states a measured quantity (a dose, a percentage, an
n-fold change, an interval, a ratio, a p-value), while the sentences that
merely restate the topic usually do not. The summariser's ``answer_type``
feature is the product of the two tests below; it is zero for every sentence
when the question does not ask for a quantity (yes/no questions, claims).

Both tests are regular expressions over English text, in the tradition of
answer-type classification in question answering (Li and Roth 2002): cheap at
query time, and the sentence side is computed once at index time.
"""

from __future__ import annotations

import re

from evsum.text import FIGURE_REFERENCE

_QUANTITY_WORDS = (
    r"percentage|proportion|share|fraction|dose|dosage|daily|number|threshold|rate|level|amount|concentration"
    r"|duration|age|size|time|interval|value|ratio|frequency|cut-?off|range|temperature|limit|IC50|EC50"
)
_QUANTITY_QUESTION = re.compile(
    r"(?:^|[,;:]\s*)(?:(?:and|so|but|then)\s+)?"
    r"(how (?:many|much|long|often|quickly|soon|far|big|large|close|high|low|fast|slow|frequent(?:ly)?|potent)\b"
    r"|(?:what|which)(?: is| are| was| were)? (?:the )?(?:[\w-]+ ){0,3}(?:" + _QUANTITY_WORDS + r")s?(?![\w-])"
    r"(?! of evidence)"
    r"|(?:above|below|at|by|within|for|after|up to|over) (?:what|how)\b)",
    re.IGNORECASE,
)

#: Citation markers, figure and table references carry digits but state no finding.
_NOT_A_QUANTITY = re.compile(
    r"\(\s*\d+(?:\s*[,–-]\s*\d+)*\s*\)|\[\s*\d+(?:\s*[,–-]\s*\d+)*\s*\]|" + FIGURE_REFERENCE.pattern,
    re.IGNORECASE,
)

_UNIT = (
    r"%|‐?-?fold\b|times\b|×|mg\b|µg|μg|g\b|g/|µM|μM|nM|mM|mL\b|ml\b|kg\b|h\b|hours?\b|days?\b|weeks?\b"
    r"|months?\b|years?\b|min\b|minutes?\b|seconds?\b|°C|mmHg|per\b"
    r"|/\s*(?:\d|day\b|d\b|week\b|wk\b|month\b|year\b|h\b|kg\b|min\b|[dm]?L\b|m2\b|m²)"
)
_QUANTITY = re.compile(
    r"(?<![\w.])\d+(?:[.,]\d+)?\s*(?:" + _UNIT + r")"
    r"|(?<![\w.])\d+\.\d+(?![\w./])|±|\b[pP]\s*[<=≤]"
    r"|(?-i:\b(?:CI|OR|HR|RR|IC50|EC50|MME)\b)"
    r"|\b\d+\s*(?:of|out of|in)\s*\d+\b"
    r"|\b(?:half|twice|triple|one[- ]third|two[- ]thirds)\b",
    re.IGNORECASE,
)


#: What ``states_quantity`` is computed from (part of the stored sentence traits' fingerprint).
QUANTITY_PATTERNS: tuple[str, ...] = (_QUANTITY.pattern, _NOT_A_QUANTITY.pattern)


def asks_for_quantity(question: str) -> bool:
    """Whether the question asks for an amount, a frequency, a duration or another quantity."""
    return bool(_QUANTITY_QUESTION.search(question))


def states_quantity(sentence: str) -> bool:
    """Whether the sentence states a measured quantity (citation markers and figure numbers do not count)."""
    return bool(_QUANTITY.search(_NOT_A_QUANTITY.sub(" ", sentence)))
