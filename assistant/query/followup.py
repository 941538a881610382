"""Follow-up questions rewritten into standalone ones before retrieval.

With an LLM the chat history is condensed by the model (``prompts/condense.txt``). Without
one, a history-aware rewrite covers the common shapes of a follow-up:

- "and on space?" after "What did Takaichi and Starmer agree on cyber?" swaps the phrase that
  starts with the same preposition: "What did Takaichi and Starmer agree on space?";
- "what about the fighter?" puts the new object after the previous question's last
  preposition: "What did Takaichi and Starmer agree on the fighter?";
- a question that leans on the history ("when will it be deployed?", "and how long did it
  last?": pronouns, very short) gets the previous question's content words added as context
  for retrieval; a follow-up that is itself a question is never spliced into the last one.
A question that stands on its own is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.text import is_stop, words

_LEAD = re.compile(
    r"\A\s*(?:and|but|also|so|ok(?:ay)?|then)?\s*(?:what|how)\s+about\b\s*|\A\s*(?:and|but|also)\b\s*",
    re.IGNORECASE,
)
_PREPOSITIONS = {"on", "about", "in", "for", "with", "regarding", "over", "to", "of", "at",
                 "from", "by", "into"}
_LEANING = {"they", "them", "their", "theirs", "he", "him", "his", "she", "her", "hers", "it",
            "its", "this", "that", "these", "those", "there", "then", "same", "other"}
_QUESTION_WORDS = {"what", "who", "when", "where", "which", "why", "how", "did", "does", "do",
                   "is", "are", "was", "were", "will", "would", "can", "could"}


def rewrite_followup(question: str, previous: Sequence[str]) -> str:
    """A standalone question, given the earlier (standalone) questions of the chat."""
    question = question.strip()
    if not previous or not question:
        return question
    last = previous[-1].strip().rstrip("?").strip()
    lead = _LEAD.match(question)
    if lead and lead.end() > 0:
        rest = question[lead.end():].strip().rstrip("?.!").strip()
        if rest and rest.split()[0].lower() in _QUESTION_WORDS:
            # "And how long did it last?" is a question of its own, not an object to put
            # into the previous one ("... agree on how long did it last?" reads as nonsense).
            question = rest[0].upper() + rest[1:] + "?"
        elif rest and len(rest.split()) <= 6:
            first = rest.split()[0].lower()
            if first in _PREPOSITIONS:
                at = last.lower().rfind(f" {first} ")
                if at > 0:
                    return f"{last[:at]} {rest}?"
            # Swap the object of the previous question's last preposition.
            low = last.lower()
            at = max(low.rfind(f" {p} ") for p in _PREPOSITIONS)
            if at > 0:
                prep = last[at:].split()[0]
                return f"{last[:at]} {prep} {rest}?"
            return f"{last}: {rest}?"
    own = words(question)
    content = [w for w in own if w not in _QUESTION_WORDS and w not in _LEANING]
    if any(w in _LEANING for w in own) or len(content) <= 2:
        missing = [w for w in dict.fromkeys(words(last)) if w not in own
                   and not is_stop(w) and len(w) > 2]
        if missing:
            return f"{question} (context: {' '.join(missing)})"
    return question


def history_text(turns: Sequence[tuple[str, str]], limit: int = 6) -> str:
    """The last turns as plain text for the condensing prompt."""
    lines = []
    for user, assistant in list(turns)[-limit:]:
        lines.append(f"Reader: {user}")
        lines.append(f"Assistant: {assistant}")
    return "\n".join(lines)
