"""Words of names and descriptions, for matching by meaning (suggest.py, domains.py).

>>> terms("ClaimHistory"), terms("claim_histories"), singular("policies")
(['claim', 'history'], ['claim', 'history'], 'policy')
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def singular(word: str) -> str:
    """A rough English singular: ``policies`` → ``policy``, ``claims`` → ``claim``."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes", "tuses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The words of a name or a description, lower-case and singular: ``ClaimHistory`` and
    ``claim_history`` → ``["claim", "history"]``."""
    return [singular(word.lower()) for word in _WORD.findall(text)]


def normal(text: str) -> str:
    """`text` as one run of its terms: ``Claim History`` → ``claimhistory``."""
    return "".join(terms(text))
