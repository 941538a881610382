"""British and American spellings of one word ("colour" and "color", "personalised" and
"personalized"): the only module that talks to breame (Apache-2.0; its word lists of the
two spellings)."""

from __future__ import annotations

from breame.spelling import get_american_spelling, get_british_spelling


def other_spellings(word: str) -> list[str]:
    """The word's spellings on the other side of the Atlantic, lower-cased (none for most
    words)."""
    low = word.lower()
    return sorted({get_american_spelling(low), get_british_spelling(low)} - {low})
