"""The extractive reader's settings: one frozen object, passed down."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ExtractiveTuning:
    """The extractive reader's settings that are not fitted (the sentence score and the
    abstention threshold are: ``combination``), each chosen on all dev sets together
    (docs/tuning.md names the rows). The reader's rules are not switches: each one kept
    earns its place on a dev set or holds a case its test names (docs/tuning.md, "Which of
    the reader's rules still earn their place")."""

    relative_cutoff: float = 0.15  # keep sentences scoring at least this share of the best
    floor: float = 0.1  # no sentence whose probability of answering is below this joins
    max_sentences: int = 4
    lead_articles: int = 1  # further facts come from the first articles retrieved...
    outsider_share: float = 0.8  # ... or must score this share of the best sentence
    embed_budget: int = 12  # sentences embedded per question (0: all); docs/tuning.md
    focus_share: float = 0.75  # keys weighing this share of the heaviest are the focus
    same_fact: float = 0.75  # cosine above which two sentences may state the same fact
    same_words: float = 0.35  # ... and the share of their other content words they share
    same_topic: float = 0.6  # cosine above which differing figures are a disagreement
    recency_bonus: float = 0.1  # "latest": added to the newest report's sentences
    kind_tagged: int = 16  # sentences whose entities are read, best first
    kind_bonus: float = 0.1  # a sentence holding a phrase of the asked kind...
    kind_penalty: float = 0.15  # ... and one that holds none, for "who/which/how many"
    rival_days: int = 14  # two answers disagree only in reports this close in time
    rival_words: float = 0.8  # ... and when the rival holds this share of the lead's words
    # An account answers a "which/who" question when its answer probability is this share of
    # the way from the threshold to 1 (0.9 at the news threshold).
    untyped_margin: float = 0.68
    typed_sentences: int = 2  # sentences after a direct answer (with its own, and rivals)
    asker_days: int = 14  # a question that names no window is about the asker's fortnight
    # "Which sport": phrases are read against the noun the question names
    head_sentences: int = 3  # ... in this many of the best sentences
    head_similarity: float = 0.3  # ... a phrase this close to the noun is of its kind
    head_phrases: int = 24  # ... of at most this many phrases (names first)
    closeness: float = 3.0  # a phrase's vote halves at this many words from the question's
    rare_share: float = 0.0005  # the question's rarest noun, if in this share of chunks or
    # fewer, must be in the answering article (docs/tuning.md)
    past_years: int = 3  # a window the question names: sentences of years this far before
    own_share: float = 0.75  # a phrase this much the question's own words does not answer it
