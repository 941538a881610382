"""Dates, outlets, conflicts and syndicated copies, on crafted articles beside the seeds."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from assistant.answer.reports import annotate_weekdays, quantities, weekday_dates
from assistant.config import Settings
from assistant.ingest.copies import rival_versions
from assistant.query.scope import question_scope
from assistant.runtime import Runtime

from .conftest import JIJI, SEEDS, YOMIURI, make_runtime

HARBOUR_A = """---
title: Harbour to reopen after storm repairs
date: 2026-03-02
source: Coastal Herald
---
The harbour at Port Aven will reopen on April 14 after storm repairs. Repairs to the sea wall cost 12 million pounds, the harbour authority said on Friday. Fishing boats have used a temporary quay since the storm in January.
"""
HARBOUR_B = """---
title: Port Aven harbour reopening date set
date: 2026-03-03
source: Western Daily
---
Port Aven's harbour is set to reopen on April 14, officials confirmed. The sea wall repairs cost 15 million pounds, according to the harbour authority. Local fishermen welcomed the news after weeks on a temporary quay.
"""
WIRE = """---
title: Rail strike called off after late-night talks
date: 2026-03-05
source: Northern Wire
---
A planned national rail strike was called off late on Wednesday after union leaders and train operators reached a provisional agreement on pay. The deal offers drivers a 4 percent rise this year and a further 3 percent next year, according to the union. Services are expected to run normally on Thursday, though some early trains may be cancelled as crews are rescheduled. The union said members would vote on the offer within two weeks.
"""
WIRE_COPY = WIRE.replace("Northern Wire", "City Evening Post").replace(
    "date: 2026-03-05", "date: 2026-03-06").replace(
    "as crews are rescheduled", "as crews are rescheduled, operators warned")
CYBER_AGAIN = """---
title: Japan and Britain deepen cyber ties
date: 2026-02-03
source: Example Asia Review
---
Japan and Britain agreed to establish the Japan-UK Strategic Cyber Partnership, a framework for cooperation in the cyber field, during talks between Sanae Takaichi and Keir Starmer in Tokyo.
"""


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory, embedder) -> Runtime:
    folder = tmp_path_factory.mktemp("news-articles")
    shutil.copytree(SEEDS, folder / "seeds")
    for name, text in [("harbour-a.md", HARBOUR_A), ("harbour-b.md", HARBOUR_B),
                       ("wire.md", WIRE), ("wire-copy.md", WIRE_COPY),
                       ("cyber-again.md", CYBER_AGAIN)]:
        (folder / name).write_text(text)
    runtime = make_runtime(Settings(index_dir=tmp_path_factory.mktemp("news-index")), embedder)
    report = runtime.ingest([folder])
    assert report.added == 7 and not report.skipped
    return runtime


def test_a_republished_copy_points_at_its_original(news: Runtime) -> None:
    records = {r.id: r for r in news.store.articles()}
    assert records["wire-copy"].duplicate_of == "wire"
    assert records["wire"].duplicate_of is None
    assert records["harbour-b"].duplicate_of is None  # same story, own words: not a copy
    assert records[YOMIURI].duplicate_of is None


def test_retrieval_keeps_one_copy_and_cites_the_original(news: Runtime) -> None:
    answer = news.ask("What pay rise does the rail deal offer drivers?")
    articles = {h.article_id for h in answer.retrieved}
    assert "wire" in articles and "wire-copy" not in articles
    assert {c.article_id for c in answer.citations} == {"wire"}
    assert "4 percent" in answer.answer
    assert any("City Evening Post" in c for c in answer.copies["wire"])
    assert answer.to_json()["copies"]["wire"]


def test_several_outlets_reporting_a_fact_are_each_cited(news: Runtime) -> None:
    answer = news.ask("When will the harbour at Port Aven reopen?")
    assert "April 14" in answer.answer
    assert "reported by" in answer.answer
    assert {c.source for c in answer.citations} >= {"Coastal Herald", "Western Daily"}


def test_disagreeing_figures_are_both_given_and_listed(news: Runtime) -> None:
    answer = news.ask("How much did the sea wall repairs at Port Aven cost?")
    assert "12 million pounds" in answer.answer and "15 million pounds" in answer.answer
    assert "The reports differ" in answer.answer
    data = answer.to_json()
    assert len(data["conflicts"]) == 1
    claims = data["conflicts"][0]["claims"]
    assert {c["text"] for c in claims} == {"12 million pounds", "15 million pounds"}
    cited = {n: c for c in data["citations"] for n in [c["n"]]}
    assert {cited[c["citations"][0]]["source"] for c in claims} == {"Coastal Herald",
                                                                     "Western Daily"}


def test_conflicts_in_openai_mode(news: Runtime, embedder, openai_settings) -> None:
    runtime = make_runtime(news.settings.with_(**openai_settings), embedder)
    answer = runtime.ask("How much did the sea wall repairs at Port Aven cost?")
    assert {c.source for c in answer.citations} >= {"Coastal Herald", "Western Daily"}
    assert len(answer.conflicts) == 1


def test_relative_weekdays_resolve_against_the_article_date(news: Runtime) -> None:
    sentence = "during their talks in Tokyo on Saturday."
    assert weekday_dates(sentence, "2026-02-02")[0][2] == date(2026, 1, 31)
    assert weekday_dates("agreed Saturday", "2026-01-31")[0][2] == date(2026, 1, 31)
    assert annotate_weekdays("met on Thursday.", "2026-01-31") == "met on Thursday (2026-01-29)."
    assert weekday_dates("will meet next Friday", "2026-01-31") == []
    answer = news.ask("What did Takaichi and Starmer agree on economic security?")
    assert "Saturday (2026-01-31)" in answer.answer


def test_question_dates_and_outlets_become_filters(news: Runtime) -> None:
    scope = question_scope("What did they agree in January 2026?", [])
    assert (scope.filters.since, scope.filters.until) == ("2026-01-01", "2026-01-31")
    # AP style writes September "Sept."; a month the reader cannot read widens the search.
    sept = question_scope("Who won the vote in Sept. 2024?", [])
    assert (sept.filters.since, sept.filters.until) == ("2024-09-01", "2024-09-30")
    assert question_scope("What was agreed as of February 1, 2026?").filters.until == \
        "2026-02-01"
    assert question_scope("What is the latest on the harbour?").prefer_recent
    outlets = ["Jiji Press", "The Yomiuri Shimbun"]
    assert question_scope("What did the Yomiuri report?", outlets).filters.sources == (
        "The Yomiuri Shimbun",)
    # A first word alone names an outlet only in a question about what was reported: a
    # place or a common word is not an outlet ("Atlanta", "college" of a host name).
    outlets += ["Atlanta Journal-Constitution", "college.usatoday.com"]
    for asked in ("Who gave a speech at Atlanta's city hall last weekend?",
                  "Which courses should I take in college?"):
        assert question_scope(asked, outlets).filters.sources == (), asked
    usa = question_scope("What did USA Today say about the storm?", outlets)
    assert usa.filters.sources == ("college.usatoday.com",) and "USA" not in usa.topic
    january = news.ask("What did Takaichi and Starmer agree on cyber in January 2026?")
    assert {h.article_id for h in january.retrieved} == {JIJI}
    yomiuri = news.ask("What did the Yomiuri Shimbun report about the fighter aircraft?")
    assert {c.article_id for c in yomiuri.citations} == {YOMIURI}
    assert "2035" in yomiuri.answer


def test_latest_prefers_the_newest_report(news: Runtime) -> None:
    answer = news.ask("What is the latest report on the Japan-UK Strategic Cyber Partnership?")
    assert answer.citations[0].article_id == "cyber-again"  # dated 2026-02-03, the newest


def test_quantities_read_figures_not_years() -> None:
    assert quantities("costing 12 million pounds in 2026") == {(12e6, "pound")}
    assert quantities("lasted about 90 minutes") == {(90.0, "minute")}
    assert quantities("a 4 percent rise") == {(4.0, "%")}
    assert quantities("two hours") == {(2.0, "hour")}
    # A date is a figure either way round, and its year, where given, one of its own.
    assert quantities("on April 14") == quantities("on 14 April") == {(414.0, "date")}
    assert quantities("on 15 November 2020") == {(1115.0, "date"), (2020.0, "date (year)")}
    assert quantities("said 3 may have died") == {(3.0, "")}


def test_articles_json_shows_the_copy(news: Runtime, tmp_path: Path) -> None:
    from .test_ingest import run_cli

    listed = json.loads(run_cli("articles", "--json", index=news.settings.index_dir).stdout)
    by_id = {a["id"]: a for a in listed}
    assert by_id["wire-copy"]["duplicate_of"] == "wire"


def test_copies_across_runs_are_found_by_key(tmp_path: Path, embedder) -> None:
    """Copy detection asks the registry for articles sharing an LSH band, run after run:
    the later copy points at the original, and an original that arrives after its copy
    becomes the copy's original."""
    from datasketch import MinHashLSH

    from assistant.ingest.copies import NearDuplicates

    lsh = MinHashLSH(threshold=NearDuplicates.THRESHOLD, num_perm=NearDuplicates.NUM_PERM)
    assert (lsh.b, lsh.r) == (NearDuplicates.BANDS, NearDuplicates.ROWS)
    runtime = make_runtime(Settings(index_dir=tmp_path / "index"), embedder)
    for name, text in [("wire-copy.md", WIRE_COPY), ("wire.md", WIRE),
                       ("harbour-a.md", HARBOUR_A)]:
        (tmp_path / name).write_text(text)
        runtime.ingest([tmp_path / name])
    # The same report word for word but for a figure says something else: not a copy.
    rival = tmp_path / "wire-rival.md"
    rival.write_text(WIRE.replace("Northern Wire", "Southern Wire").replace(
        "a 4 percent rise", "a 6 percent rise"))
    runtime.ingest([rival])
    second_copy = tmp_path / "wire-copy-2.md"
    second_copy.write_text(WIRE_COPY.replace("City Evening Post", "Morning Star").replace(
        "date: 2026-03-06", "date: 2026-03-08"))
    runtime.ingest([second_copy])
    records = {r.id: r for r in runtime.store.articles()}
    assert records["wire-copy"].duplicate_of == "wire"
    assert records["wire-copy-2"].duplicate_of == "wire"
    assert records["wire"].duplicate_of is None and records["harbour-a"].duplicate_of is None
    assert records["wire-rival"].duplicate_of is None
    # The side index's copy of the registry, kept by each write, says the same.
    assert runtime.retriever.lexical.visibility(list(records), runtime.store.generation()) \
        == {r.id: (r.hash[:12], r.duplicate_of) for r in records.values()}


def test_a_report_changed_only_in_a_name_or_figure_is_a_rival_not_a_copy() -> None:
    """Syndicated copies differ by an added sentence, a re-spelling or the outlet's own
    name; a text that differs only by the name or figure it reports contradicts the other."""
    one = ("Tim Cook is Apple's chief executive and a member of its leadership team. "
           "Analysts expect the company to report strong results next week.")
    assert rival_versions(one, one.replace("Tim Cook", "Steve Jobs"))
    assert rival_versions(WIRE, WIRE.replace("a 4 percent rise", "a 6 percent rise"))
    assert not rival_versions(one, one)
    assert not rival_versions(WIRE, WIRE_COPY)  # a sentence reworded: a copy
    assert not rival_versions(one, one.replace("Cook", "Cöok"))  # a re-spelling
    assert not rival_versions(one + " (Northern Wire)", one + " (City Evening Post)",
                              ("Northern Wire", "City Evening Post"))
    assert not rival_versions(one, one.replace("Tim Cook is", "Tim Cook, 63, is"))


def test_retrieval_favours_the_askers_fortnight(tmp_path: Path, embedder) -> None:
    """A question that names no time asks about now: of two reports of a like event years
    apart, the one from the asker's last fortnight is retrieved first, though the older one
    matches the question's words better; asked years later, when the store holds nothing
    of those days, retrieval's own order stands."""
    old = ("---\ntitle: New Springfield bridge opens\ndate: 2019-06-02\nsource: Valley Post\n"
           "---\nMayor Tom Baker opened the new Springfield bridge to traffic on Saturday. "
           "The new Springfield bridge replaces a ferry.\n")
    new = ("---\ntitle: Rebuilt river crossing reopens\ndate: 2024-03-24\nsource: Valley Post\n"
           "---\nMayor Ann Lee reopened the rebuilt crossing over the river in Springfield "
           "on Saturday, after two years of works.\n")
    (tmp_path / "bridge-2019.md").write_text(old)
    (tmp_path / "bridge-2024.md").write_text(new)
    runtime = make_runtime(Settings(index_dir=tmp_path / "index"), embedder)
    runtime.ingest([tmp_path / "bridge-2019.md", tmp_path / "bridge-2024.md"])
    question = "Who opened the new Springfield bridge?"

    def first(today: date) -> str:
        return runtime.as_retriever(today=today).retrieve(question)[0].node.metadata[
            "article_id"]

    assert first(date(2026, 12, 1)) == "bridge-2019"
    assert first(date(2024, 3, 29)) == "bridge-2024"
    answer = runtime.ask(question, today=date(2024, 3, 29))
    assert answer.retrieved[0].article_id == "bridge-2024"
    assert answer.answer.startswith("Ann Lee"), answer.answer
