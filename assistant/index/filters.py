"""What a search may return: a date range and outlets. A value of its own, so that the
question reader, the side index and retrieval share it without importing one another."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Filters:
    since: str | None = None  # ISO dates, inclusive
    until: str | None = None
    sources: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.sources)

    def date_range(self) -> tuple[int, int]:
        lo = int(self.since.replace("-", "")) if self.since else 0
        hi = int(self.until.replace("-", "")) if self.until else 99_999_999
        return lo, hi

    def day_bounds(self) -> tuple[int, int] | None:
        """The date filter as inclusive YYYYMMDD bounds that an undated chunk (0) is
        outside of; None without one."""
        if not (self.since or self.until):
            return None
        lo, hi = self.date_range()
        return max(lo, 1), hi

    def names_outlet(self, source: str | None) -> bool:
        """Whether the outlet filter takes this outlet (by part of its name)."""
        return any(s.lower() in (source or "").lower() for s in self.sources)

    def accepts(self, date: str | None, source: str | None) -> bool:
        """Whether a report of this ISO ``date`` from this ``source`` passes."""
        bounds = self.day_bounds()
        day = int(date.replace("-", "")) if date else 0
        if bounds is not None and not bounds[0] <= day <= bounds[1]:
            return False
        return not self.sources or self.names_outlet(source or "")

    def chroma_where(self) -> dict[str, object] | None:
        """The filter in Chroma's ``where`` syntax (None: no filter)."""
        clauses: list[dict[str, object]] = []
        bounds = self.day_bounds()
        if bounds is not None:
            clauses += [{"date_int": {"$gte": bounds[0]}}, {"date_int": {"$lte": bounds[1]}}]
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def any_of(field: str, values: list[str]) -> dict[str, object]:
    """A Chroma ``where`` for a field equal to any of the values (one value: plain equality,
    which Chroma wants instead of a one-element ``$in``)."""
    return {field: values[0]} if len(values) == 1 else {field: {"$in": values}}
