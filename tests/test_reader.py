"""The reader that answers first: the kind of phrase a question asks for, the direct answer
taken verbatim from a cited sentence, abstention when no sentence holds a phrase of that kind,
and two sources naming different answers."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.answer.combination import Combination
from assistant.answer.model import Answer
from assistant.config import Settings
from assistant.index.records import Hit
from assistant.ingest.chunking import split_sentences
from assistant.query.entities import (
    DURATION,
    MONEY,
    NUMBER,
    ORG,
    PERCENT,
    PERSON,
    PLACE,
    WHEN,
    Entity,
    answer_kind,
    asks_for_a_name,
)
from assistant.query.scope import question_scope
from assistant.retrieval.hybrid import RetrievalTuning, rank_articles
from assistant.runtime import Runtime

from .conftest import JIJI, SEEDS, YOMIURI, make_runtime, reading_model
from .stated_corpus import StatedCorpus

FEST_A = """---
title: Harbour Lights festival picks its host
date: 2026-05-04
source: Rhone Daily
---
The Harbour Lights festival will be held in Lyon this summer, its organisers announced on Monday. Tickets go on sale in June, and about forty bands are expected to play over three nights.
"""
FEST_B = """---
title: Harbour Lights festival moves south
date: 2026-05-05
source: Southern Wire
---
Organisers confirmed that the Harbour Lights festival will take place in Marseille this year. The move follows a dispute over the use of the old docks, the organisers said.
"""


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory, embedder) -> Runtime:
    folder = tmp_path_factory.mktemp("reader-articles")
    shutil.copytree(SEEDS, folder / "seeds")
    (folder / "fest-a.md").write_text(FEST_A)
    (folder / "fest-b.md").write_text(FEST_B)
    runtime = make_runtime(Settings(index_dir=tmp_path_factory.mktemp("reader-index")),
                           embedder)
    assert runtime.ingest([folder]).added == 4
    return runtime


@pytest.mark.parametrize(("question", "kind"), [
    ("Who beat the world champion in the final?", PERSON | ORG | {"GPE", "NORP"}),
    ("Who is the CEO of the carmaker?", PERSON),
    ("Who was the standout player in the title game?", PERSON),  # a person noun after "who was"
    ("Who was the runner-up of the tournament?", PERSON | ORG | {"GPE", "NORP"}),
    ("Which city was rocked by a bridge collapse?", PLACE),
    ("The festival will be held in which city?", PLACE),  # the head noun ends the question
    ("Which automaker recalled 112,000 vehicles?", ORG),
    ("How many days are in the 2024 calendar year?", NUMBER),
    ("What percentage of adults got the latest vaccine?", PERCENT),  # not any number
    ("How much did the flight cost taxpayers?", MONEY | PERCENT | {"QUANTITY"}),
    ("How long did the meeting last?", DURATION),
    ("When is the fighter expected to be deployed?", WHEN),
    ("Where did the two planes collide?", PLACE),
    ("What did Takaichi and Starmer agree on cyber?", None),
    # The noun after "name of", and the last known noun of a longer phrase, is the head.
    ("What is the name of the player who scored twice?", PERSON),
    ("Which Labour Party MP resigned?", PERSON),
    ("Which university dismissed its president?", ORG),
    ("Which coffee chain raised its prices?", ORG),
    ("Which team won the city championship?", ORG),
    ("What did the minister say when she resigned?", None),
])
def test_the_question_form_says_what_kind_of_phrase_answers(question: str, kind) -> None:
    assert answer_kind(question) == kind


def test_the_answer_opens_with_the_phrase_asked_for(reader: Runtime) -> None:
    answer = reader.ask("Which country did Starmer visit just before arriving in Japan?")
    assert answer.answer.startswith("China [1]."), answer.answer
    quote = answer.citations[0].quote
    assert "China" in quote  # the direct answer is verbatim in its cited quote
    assert answer.citations[0].supported and answer.citations[0].verdict == "supported"

    duration = reader.ask("How long did the Takaichi-Starmer meeting last?")
    assert duration.answer.startswith("about 90 minutes [1]."), duration.answer
    assert duration.citations[0].article_id == YOMIURI


def test_an_account_question_still_gets_cited_sentences(reader: Runtime) -> None:
    answer = reader.ask("What did Takaichi and Starmer agree on cyber?")
    assert not answer.abstained
    assert "Strategic Cyber Partnership" in answer.answer
    assert {c.article_id for c in answer.citations} == {JIJI, YOMIURI}
    assert answer.answer.split()[0] != "China"


def test_a_question_no_sentence_answers_in_kind_is_abstained_on(reader: Runtime) -> None:
    # The articles name the summit's leaders and places, but no score of any match.
    answer = reader.ask("How many goals did Starmer score in Tokyo?")
    assert answer.abstained, answer.answer
    assert answer.citations == []


def test_two_sources_naming_different_places_are_both_stated(reader: Runtime) -> None:
    answer = reader.ask("Which city will host the Harbour Lights festival?")
    assert "Lyon" in answer.answer and "Marseille" in answer.answer, answer.answer
    assert "differ" in answer.answer
    assert answer.conflicts, "the disagreement is listed"
    cited = {c.source for c in answer.citations}
    assert {"Rhone Daily", "Southern Wire"} <= cited
    claims = {text for text, _ in answer.conflicts[0].claims}
    assert claims == {"Lyon", "Marseille"}


def test_this_week_is_read_against_the_askers_day() -> None:
    scope = question_scope("Which city hosted this week's summit?", [], date(2024, 3, 29))
    assert scope.favoured == ("2024-03-22", "2024-03-29")
    assert "this week" not in scope.topic
    assert question_scope("Who won yesterday?", [], date(2024, 3, 1)).favoured == (
        "2024-02-29", "2024-02-29")
    recently = question_scope("Which automaker recently reported a loss?", [], date(2024, 4, 26))
    assert recently.favoured == ("2024-01-27", "2024-04-26")
    assert "recently" not in recently.topic
    latest = question_scope("What is the most recent figure?", [], date(2024, 4, 26))
    assert latest.favoured is None and latest.prefer_recent  # "latest" is another rule
    # Asked on a Friday: the Saturday and Sunday before, and Monday's reports of them.
    assert question_scope("Who spoke at the graduation last weekend?", [],
                          date(2024, 5, 24)).favoured == ("2024-05-18", "2024-05-20")


def test_ask_takes_today_on_the_command_line(reader: Runtime, tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {"ASSISTANT_INDEX_DIR": str(reader.settings.index_dir), "HF_HUB_OFFLINE": "1",
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "Which festival was announced this week?",
         "--today", "2026-05-06", "--json"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["retrieved"][0]["article_id"] in ("fest-a", "fest-b")
    bad = subprocess.run([sys.executable, "-m", "assistant", "ask", "q", "--today", "someday"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 1 and "--today" in bad.stderr and "Traceback" not in bad.stderr
    slip = subprocess.run([sys.executable, "-m", "assistant", "ask", "q", "--today",
                           "2026-13-01"], capture_output=True, text=True, env=env, timeout=300)
    assert slip.returncode == 1 and "Traceback" not in slip.stderr
    assert "--today: '2026-13-01' is not a day of the calendar" in slip.stderr
    backwards = subprocess.run([sys.executable, "-m", "assistant", "ask", "q", "--since",
                                "2026-03-01", "--until", "2026-01-01", "--top-k", "0"],
                               capture_output=True, text=True, env=env, timeout=300)
    # Refused before anything is asked: no answer that blames the articles.
    assert backwards.returncode != 0 and "Traceback" not in backwards.stderr
    assert "'--top-k': 0 is not in the range" in backwards.stderr
    assert not backwards.stdout


def test_a_date_window_that_ends_before_it_starts_is_refused() -> None:
    import gradio as gr

    from assistant.errors import InputError
    from assistant.ingest.articles import date_window
    from assistant.surfaces.web import App

    assert date_window("March 5, 2026", " ") == ("2026-03-05", None)
    with pytest.raises(InputError, match="--since 2026-03-01 is after --until 2026-01-01"):
        date_window("2026-03-01", "2026-01-01")
    # The app's date boxes say it in their own names.
    with pytest.raises(gr.Error, match="from 2026-03-01 is after to 2026-01-01"):
        App.filters("2026-03-01", "2026-01-01")


def _hit(article: str, n: int) -> Hit:
    return Hit(f"{article}::{n}", article, "text", 0, 4, 0.0, article, None, None, None)


def _report(article: str, text: str, title: str, day: str, source: str = "Example Daily",
            score: float = 1.0) -> Hit:
    """An article of one passage, retrieved with ``score``."""
    return Hit(f"{article}::0", article, text, 0, len(text), score, title, day, source, None)


def test_five_chunks_of_one_article_do_not_hide_the_other_candidates() -> None:
    dense = [_hit("a", i) for i in range(5)] + [_hit("b", 0), _hit("c", 0)]
    lexical = [_hit("a", 3), _hit("d", 0), _hit("b", 0)]
    hits = rank_articles([(dense, 1.0), (lexical, 0.5)], 4, RetrievalTuning(extra_chunks=0), {})
    assert [h.article_id for h in hits] == ["a", "b", "c", "d"]
    # Extra chunks come after one chunk of each article, the best-scoring first.
    more = rank_articles([(dense, 1.0), (lexical, 0.5)], 4, RetrievalTuning(extra_chunks=2), {})
    assert hits[0].chunk_id == "a::3"  # the chunk both rankings found
    assert [h.chunk_id for h in more][4:] == ["a::0", "a::1"]
    # With fewer articles than k, further chunks fill the budget, best article first.
    few = rank_articles([(dense[:3], 1.0)], 3, RetrievalTuning(), {})
    assert [h.chunk_id for h in few] == ["a::0", "a::1", "a::2"]
    # A copy gives way to its original when both were found.
    copies = rank_articles([([_hit("copy", 0), _hit("orig", 1)], 1.0)], 2, RetrievalTuning(),
                           {"copy": "orig"})
    assert [h.article_id for h in copies] == ["orig"]


class _NoEntities:
    """A tagger that finds no names at all: the sentences hold nothing of the asked kind."""

    def tag(self, texts):  # type: ignore[no-untyped-def]
        return [[] for _ in texts]

    nouns = tag

    def untagged_names(self, text):  # type: ignore[no-untyped-def]
        return []


def test_an_account_answers_a_which_question_only_when_clearly_strong(embedder) -> None:
    from assistant.answer.extractive import ExtractiveAnswerer, ExtractiveTuning

    text = ("The new energy standards target gas stoves sold in the United States. "
            "Manufacturers have three years to comply.")
    hit = _report("s", text, "Energy standards", "2024-02-01")
    question = "Which home appliances do the new energy standards target?"
    vector = embedder.embed([question])[0]
    lenient = ExtractiveAnswerer(embedder, reading_model(), Combination.load(), ExtractiveTuning(), tagger=_NoEntities())  # type: ignore[arg-type]
    answer = lenient.answer(question, vector, [hit])
    assert not answer.abstained and "gas stoves" in answer.answer
    strict = ExtractiveAnswerer(embedder, reading_model(), Combination.load(), ExtractiveTuning(untyped_margin=1.0),
                                tagger=_NoEntities())  # type: ignore[arg-type]
    assert strict.answer(question, vector, [hit]).abstained


def test_an_article_about_someone_else_does_not_answer(reader: Runtime) -> None:
    """The festival articles say where it is held but never name Starmer: a question about
    Starmer's festival is not answered from them. (Since 2026-12-07 the fitted answer model
    answers it from a Starmer report instead, "Japan", at 0.40 against the 0.30 bar of
    questions about days the store holds nothing of; that quote's own probability of
    answering is 0.03, so it must be shown as not answering: docs/tuning.md, fourteenth
    round.)"""
    question = "Which city did Starmer pick to host the Harbour Lights festival?"
    answer = reader.ask(question)
    assert not {"Lyon", "Marseille"} & set(answer.answer.replace(".", " ").split())
    assert not any(c.title and "Harbour Lights" in c.title for c in answer.citations)
    assert answer.abstained or not answer.citations[0].supported, answer.citations[0]
    # A question whose people and places the article names is still answered...
    assert not reader.ask("Which city will host the Harbour Lights festival?").abstained
    # ... also when the name is in the article but not in the passage that answers.
    named = reader.ask("What did Takaichi and Starmer agree on cyber?")
    assert not named.abstained, named.answer


class _Tagged:
    """A tagger that names one entity in the question and nothing in the passages."""

    def __init__(self, entity: Entity) -> None:
        self.entity = entity

    def tag(self, texts):  # type: ignore[no-untyped-def]
        return [[self.entity] if self.entity.text in t else [] for t in texts]

    def nouns(self, texts):  # type: ignore[no-untyped-def]
        return [[] for _ in texts]

    def untagged_names(self, text):  # type: ignore[no-untyped-def]
        return []


def test_a_place_is_named_by_its_rarest_word_not_its_common_ones(embedder) -> None:
    """A report on Rock Creek Park does not answer a question about Brandywine Creek Park,
    though it holds two of the name's three words: of a place's name, the word fewest
    chunks hold is the one that must be there."""
    from assistant.answer.extractive import ExtractiveAnswerer, ExtractiveTuning

    text = ("Rangers at Rock Creek Park will burn dry brush on Tuesday to cut the risk of "
            "wildfires spreading to nearby homes.")
    hit = _report("r", text, "Controlled burn", "2024-03-01")
    question = "Why will rangers burn brush at Brandywine Creek Park?"
    counts = {"brandywine": 2, "rock": 5, "creek": 40, "park": 90}

    def ask(question: str, park: Entity) -> Answer:
        answerer = ExtractiveAnswerer(embedder, reading_model(), Combination.load(),
                                      ExtractiveTuning(), tagger=_Tagged(park),  # type: ignore[arg-type]
                                      corpus=StatedCorpus(counts=counts))
        return answerer.answer(question, embedder.embed([question])[0], [hit])

    assert ask(question, Entity(38, 59, "FAC", "Brandywine Creek Park")).abstained
    # The park the report names is answered from it.
    rock = ask("Why will rangers burn brush at Rock Creek Park?",
               Entity(38, 53, "FAC", "Rock Creek Park"))
    assert not rock.abstained and "Rock Creek Park" in rock.answer, rock.answer


def _from_one_passage(text: str, question: str, reader: Runtime, embedder,  # type: ignore[no-untyped-def]
                      **tuning: Any) -> Answer:
    """The extractive answer from one passage of one article, with the real tagger."""
    from assistant.answer.extractive import ExtractiveAnswerer, ExtractiveTuning

    hit = _report("p", text, "A report", "2024-01-30")
    answerer = ExtractiveAnswerer(embedder, reading_model(), Combination.load(), ExtractiveTuning(**tuning), tagger=reader.tagger)
    return answerer.answer(question, embedder.embed([question])[0], [hit])


def test_a_surname_answer_is_given_in_full_from_the_same_article(reader: Runtime,
                                                                 embedder) -> None:
    text = ("Sarah Johnson, a former violinist, took over in January. Johnson chose Lyon as "
            "the host city of the festival after a long search, the organisers said.")
    question = "Who chose Lyon as the host city of the festival?"
    answer = _from_one_passage(text, question, reader, embedder)
    assert answer.answer.startswith("Sarah Johnson [1]."), answer.answer
    assert "Sarah Johnson" in answer.citations[0].quote  # verbatim in the quote it cites
    assert any(c.quote.startswith("Johnson chose Lyon") for c in answer.citations)


def test_a_report_from_the_week_asked_about_leads(reader: Runtime, embedder) -> None:
    """Two reports of the same kind of event, years apart: "this week" favours the one
    inside the window, though retrieval ranked the older one first; so does the asker's
    fortnight when the question names no time."""
    from assistant.answer.extractive import ExtractiveAnswerer

    old = "Mayor Tom Baker opened the new Springfield bridge to traffic on Saturday."
    new = "Mayor Ann Lee opened the new Springfield bridge to traffic on Saturday."
    hits = [_report("o", old, "Bridge opens", "2019-06-02"),
            _report("n", new, "Bridge opens", "2024-03-24", score=0.9)]
    question = "Who opened the new Springfield bridge?"
    vector = embedder.embed([question])[0]
    answerer = ExtractiveAnswerer(embedder, reading_model(), Combination.load(), tagger=reader.tagger)
    assert answerer.answer(question, vector, hits).answer.startswith("Tom Baker")
    week = answerer.answer(question, vector, hits, favoured=("2024-03-22", "2024-03-29"))
    assert week.answer.startswith("Ann Lee"), week.answer
    assert week.citations[0].article_id == "n"
    # A question that names no time is read as about the asker's last fortnight.
    now = answerer.answer(question, vector, hits, today=date(2024, 3, 29))
    assert now.answer.startswith("Ann Lee"), now.answer
    years_later = answerer.answer(question, vector, hits, today=date(2026, 12, 1))
    assert years_later.answer.startswith("Tom Baker"), years_later.answer


def test_a_which_question_about_a_common_noun_gets_a_phrase_of_that_kind(reader: Runtime,
                                                                         embedder) -> None:
    """"Which sport": no entity label stands for a sport, so any name used to do, and the
    agency that speaks in the sentence was the answer. Now the phrases the embedding model
    places near "sport" are the candidates."""
    text = ("The World Anti-Doping Agency said on Friday that the skater Anna Petrova had "
            "been banned from figure skating for four years.")
    question = "Anna Petrova was banned from which sport?"
    answer = _from_one_passage(text, question, reader, embedder)
    assert answer.answer.startswith("figure skating [1]."), answer.answer
    # Asked for "the name of" something, a proper name answers, not a common noun.
    assert asks_for_a_name("What is the name of Microsoft's AR headset?")
    assert asks_for_a_name("What is the new voice assistant called?")
    assert not asks_for_a_name(question)


def test_of_two_names_in_a_sentence_the_one_by_the_asked_role_answers(reader: Runtime,
                                                                     embedder) -> None:
    """A sentence naming two people in two roles: the one standing by the question's own
    words ("conductor Peter Sandvik" for "who is the conductor") answers, not the first
    one named."""
    text = ("The new opera, written by Clara Holm, opens in Bergen on Friday with conductor "
            "Peter Sandvik.")
    question = "Who is the conductor of the new opera?"
    answer = _from_one_passage(text, question, reader, embedder)
    assert answer.answer.startswith("Peter Sandvik [1]."), answer.answer
    first_named = _from_one_passage(text, question, reader, embedder, closeness=0.0)
    assert first_named.answer.startswith("Clara Holm [1]."), first_named.answer


def _two_reports(reader: Runtime, embedder, one: str, name: str, other_name: str,
                 question: str, **tuning: Any) -> Answer:
    """The answer from two reports of consecutive days, ``one`` and ``one`` with
    ``other_name`` in place of ``name``."""
    from assistant.answer.extractive import ExtractiveAnswerer, ExtractiveTuning

    hits = [_report("a", one, "Report", "2024-03-04", "Eastern Herald"),
            _report("b", one.replace(name, other_name), "Report", "2024-03-05",
                    "Western Gazette", score=0.9)]
    vector = embedder.embed([question])[0]
    return ExtractiveAnswerer(embedder, reading_model(), Combination.load(), ExtractiveTuning(**tuning),
                              tagger=reader.tagger).answer(question, vector, hits)


def test_one_sentence_told_with_another_name_is_a_disagreement(reader: Runtime,
                                                               embedder) -> None:
    """Two reports of the same days word one fact alike but name different people: the
    answer shows both, each cited, and lists the disagreement, though the question asks for
    an account rather than a name (so no direct answer is there to compare)."""
    one = ("Maria Lindqvist won the Nordic chess open in Oslo on Sunday after a tense "
           "final game against the defending champion.")
    question = "What happened at the final of the Nordic chess open?"
    answer = _two_reports(reader, embedder, one, "Maria Lindqvist", "Anna Berg", question)
    assert "Maria Lindqvist" in answer.answer and "Anna Berg" in answer.answer, answer.answer
    assert len(answer.conflicts) == 1, answer.conflicts
    claims = {text: numbers for text, numbers in answer.conflicts[0].claims}
    assert set(claims) == {"Maria Lindqvist", "Anna Berg"}
    assert {answer.citations[n - 1].article_id for ns in claims.values() for n in ns} == {"a", "b"}


def test_one_sentence_with_another_name_is_not_cited_as_the_same_report(reader: Runtime,
                                                                      embedder) -> None:
    """A sentence that reads the same but for the name in it reports something else: it is
    never a second citation of the first ("— reported by A [1] and B [2]" where B's quote
    names another film), however the tagger labels the two names."""
    one = ("Pixar's Soul has won the Oscar for Best Animated Feature, becoming the only "
           "film ever to win that award without playing in cinemas.")
    answer = _two_reports(reader, embedder, one, "Soul", "Toy Story 2",
                          "What happened with the Oscar for Best Animated Feature?")
    assert "reported by" not in answer.answer, answer.answer
    assert "Soul" in answer.answer and "Toy Story 2" in answer.answer, answer.answer
    assert answer.conflicts, answer.answer


def test_two_dates_written_the_other_way_round_are_a_disagreement(reader: Runtime,
                                                                 embedder) -> None:
    """One report writes the day first ("15 November 2020"), the other the month first,
    with another year ("November 15, 2012"): the dates differ, so the answer lists the
    disagreement with both dates as written, not "reported by A [1] and B [2]"."""
    one = ("The fourth season of the drama was released by the streaming service on "
           "15 November 2020, the company said.")
    answer = _two_reports(reader, embedder, one, "15 November 2020", "November 15, 2012",
                          "When was the fourth season of the drama released?")
    assert "reported by" not in answer.answer, answer.answer
    assert answer.conflicts, answer.answer
    claims = {text for c in answer.conflicts for text, _ in c.claims}
    assert {"15 November 2020", "November 15, 2012"} <= claims, answer.conflicts


def test_a_british_spelling_is_not_a_word_the_articles_lack(reader: Runtime) -> None:
    """The seeds write "defense"; a reader who writes "defence" asks about the same thing,
    so the absent-word rule ("no ingested article mentions ...") must not abstain."""
    american = reader.ask("What did Takaichi and Starmer agree on defense?")
    british = reader.ask("What did Takaichi and Starmer agree on defence?")
    assert not american.abstained
    assert not british.abstained, british.answer
    assert "defence" not in british.answer  # quotes stay the articles' own words
    # A word no article holds in either spelling still is one.
    assert reader.ask("What did Takaichi and Starmer agree on flavour?").abstained


def _answer(reader: Runtime, embedder, question: str, hits: list[Hit],
            corpus: StatedCorpus | None = None, favoured: tuple[str, str] | None = None,
            today: date | None = None, **tuning: Any) -> Answer:
    """The answer of a reader with ``tuning``, the real tagger and ``corpus``."""
    from assistant.answer.extractive import ExtractiveAnswerer, ExtractiveTuning

    vector = embedder.embed([question])[0]
    return ExtractiveAnswerer(embedder, reading_model(), Combination.load(), ExtractiveTuning(**tuning), tagger=reader.tagger,
                              corpus=corpus).answer(question, vector, hits,
                                                          favoured=favoured, today=today)


def test_a_sentence_about_another_of_a_series_does_not_answer(reader: Runtime,
                                                              embedder) -> None:
    """"Who won the final in 2023?" is not answered by the report of the 2022 final, nor
    "the third season" by the fourth, however alike the sentences read."""
    question = "Who won the Nordic chess open final in 2023?"
    hits = [_report("old", "Maria Lindqvist won the 2022 Nordic chess open final in Oslo "
                    "after a tense last game.", "Nordic chess open", "2023-05-02"),
            _report("new", "Anna Berg won the Nordic chess open on Sunday, beating the "
                    "defending champion in the final game.", "Chess", "2023-05-01",
                    score=0.9)]
    answer = _answer(reader, embedder, question, hits)
    assert answer.answer.startswith("Anna Berg"), answer.answer
    assert "Lindqvist" not in answer.answer
    seasons = [_report("s", "The fourth season of Harbour Watch premieres on Netflix on "
                       "November 15, 2024. The third season of Harbour Watch arrived on "
                       "Netflix on November 17, 2023.", "Harbour Watch", "2024-10-01")]
    answer = _answer(reader, embedder, "When did season 3 of Harbour Watch premiere?",
                     seasons)
    assert answer.answer.startswith("November 17, 2023"), answer.answer


@pytest.mark.parametrize(("question", "sentence", "other"), [
    ("Who won the World Cup final in 2018?", "the 2014 FIFA World Cup final in Rio", True),
    ("Who won the World Cup final in 2018?", "the 2014 and 2018 World Cup finals", False),
    # A year inside a date dates a report; it names no other event.
    ("Who won the World Cup final in 2018?", "On July 15, 2014, the final was held", False),
    ("Who won the 2018 Nobel Prize in Literature?", "The 2019 Nobel Prize went to", True),
    ("Who won the 2018 Nobel Prize in Literature?", "the 2019 Booker Prize went to", False),
    ("When does season 3 premiere?", "The show's fourth-season premiere", True),
    ("When does season 3 premiere?", "The third season premieres", False),
    ("When does the 3rd season premiere?", "Season 4 premieres", True),
    # A count numbers nothing the question numbers.
    ("Who won the World Cup final in 2018?", "France won 4-2 in the final", False),
])
def test_another_of_a_series_is_the_same_words_numbered_otherwise(
        question: str, sentence: str, other: bool) -> None:
    from assistant.answer.numbered import another_of_series, numbered

    assert another_of_series(numbered(question, whole=True), sentence) is other


def test_when_is_answered_with_the_day_rather_than_the_bare_year(reader: Runtime,
                                                                 embedder) -> None:
    """A sentence that only names the year beside one that gives the day: "when" is
    answered with the day."""
    text = ("The opening of the new Harbour Bridge is the big event of 2025 for the city. "
            "Officials said the bridge will carry its first traffic on March 3, 2025.")
    hits = [_report("b", text, "Harbour Bridge", "2025-01-10")]
    question = "When does the new Harbour Bridge open?"
    answer = _answer(reader, embedder, question, hits)
    assert answer.answer.startswith("March 3, 2025"), answer.answer


def test_the_question_s_rarest_noun_must_be_in_the_answering_article(reader: Runtime,
                                                                     embedder) -> None:
    """A report on dinners that never says "muskrat" does not say which restaurant served
    muskrat dinners: a noun so rare in the store (here 3 chunks of 10,000) names what the
    question is about as a name does. Where the report names it, the answer stands."""
    question = "Which Delaware restaurant served muskrat dinners for decades?"

    corpus = StatedCorpus(counts={"muskrat": 3}, other_words=500, chunks=10_000)
    text = "The Wagner Inn, a Delaware restaurant, has served {}dinners for decades."
    other = _report("o", text.format(""), "Dining", "2024-03-01")
    named = _report("n", text.format("muskrat "), "Dining", "2024-03-01")

    def answer(hit: Hit, **tuning: Any) -> Answer:
        return _answer(reader, embedder, question, [hit], corpus, **tuning)

    assert answer(other).abstained
    assert not answer(other, rare_share=0.0).abstained  # the rule is what abstains
    assert answer(named).answer.startswith("The Wagner Inn"), answer(named).answer


def test_a_sentence_of_years_long_past_does_not_answer_this_week(reader: Runtime,
                                                                 embedder) -> None:
    """Asked about this week, a sentence that names only a year long past ("on Aug. 13,
    1944") tells of another time, even in a report of this week and ranked first."""
    question = "Which theme park reported a ride collision this week that injured people?"
    hits = [_report("old", "A ride collision at Harbour Park on Aug. 13, 1944, injured 150 "
                    "people and ended the theme park's season.", "Park history", "2024-04-21"),
            _report("new", "A tram crashed at the Lakeside Gardens theme park on Saturday "
                    "night, leaving 15 people injured.", "Tram crash", "2024-04-21",
                    score=0.9)]

    def answer(**tuning: Any) -> Answer:
        return _answer(reader, embedder, question, hits, favoured=("2024-04-15", "2024-04-21"),
                       today=date(2024, 4, 21), **tuning)

    assert answer().answer.startswith("Lakeside Gardens"), answer().answer
    assert "1944" not in answer().answer
    assert answer(past_years=0).answer.startswith("Harbour Park")


def test_a_name_mostly_of_the_question_s_own_words_does_not_answer(reader: Runtime,
                                                                   embedder) -> None:
    """"What is the name of the cider released by Hollow Creek Cidery?" is not answered by
    "Hollow Creek Craft Cidery": three of its four words are the question's, so it is the
    subject asked about, restated. The cider's own name answers where a report gives it."""
    question = "What is the name of the cider released by Hollow Creek Cidery this spring?"
    restated = _report("r", "Hollow Creek Craft Cidery owners opened a new taproom next to "
                       "the old barn in Dover.", "Taproom", "2024-03-01")
    named = _report("n", "Hollow Creek Cidery released Blossom Gold, a pear cider, this "
                    "spring.", "Cider", "2024-03-01", score=0.9)

    def answer(hits: list[Hit], **tuning: Any) -> Answer:
        return _answer(reader, embedder, question, hits, **tuning)

    assert "Hollow Creek Craft Cidery [1]" not in answer([restated]).answer
    assert answer([restated], own_share=1.0).answer.startswith("Hollow Creek Craft Cidery")
    assert answer([restated, named]).answer.startswith("Blossom Gold"), answer(
        [restated, named]).answer


def test_a_name_the_tagger_missed_must_be_in_the_answering_article(reader: Runtime,
                                                                   embedder) -> None:
    """spaCy's small model finds no entity in "Who is the CEO of Facebook in 2021?" but
    the year: "Facebook", a proper noun all the same, must be named by the article that
    answers, so a report on Apple's CEO does not."""
    question = "Who is the CEO of Facebook in 2021?"
    apple = _report("a", "Tim Cook is the CEO of Apple, the company said in 2021.",
                    "Apple", "2021-05-01")
    facebook = _report("f", "Mark Zuckerberg is the CEO of Facebook, the company said in "
                       "2021.", "Facebook", "2021-05-01", score=0.8)
    assert reader.tagger is not None and "Facebook" in reader.tagger.untagged_names(question)
    assert _answer(reader, embedder, question, [apple]).abstained
    answer = _answer(reader, embedder, question, [apple, facebook])
    assert answer.answer.startswith("Mark Zuckerberg"), answer.answer


def test_a_lower_case_word_is_no_name_in_a_cased_report(reader: Runtime, embedder) -> None:
    """spaCy's small model tags "thrill" in "a new kind of thrill" as a place; a report
    writes a place's name with a capital, so "where" is not answered with "thrill". A
    question typed all in lower case keeps the names the tagger finds in it."""
    sentence = ("Every year, theme parks and amusement parks around the country try to one-up "
                "each other with new roller coasters claiming to be the tallest, steepest, "
                "longest, or first to feature a new kind of thrill.")
    assert reader.tagger is not None
    assert [e.text for e in reader.tagger.tag([sentence])[0] if e.label == "GPE"] == []
    assert "america" in [e.text for e in reader.tagger.tag(
        ["where was america's first roller coaster built?"])[0]]
    question = "Where was the first roller coaster of the amusement parks built?"
    answer = _from_one_passage(sentence, question, reader, embedder)
    assert not answer.answer.startswith("thrill"), answer.answer


def test_a_sentence_holding_little_of_the_question_is_no_rival_version() -> None:
    """"Where did the upside-down flag fly?": a report that "The Times previously reported"
    such a flag is on the topic and names another place or body, but it does not tell the
    asked fact another way; two versions of one fact are told in like words."""
    from assistant.answer.sentences import Candidate
    from assistant.answer.tuning import ExtractiveTuning
    from assistant.answer.versions import Versions

    lead = "An upside-down flag flew on Wednesday at the Post Office on Orange Avenue."
    other = "The Times previously reported that such a flag flew in January."
    told_again = "An upside-down flag flew on Wednesday at the Town Hall on Orange Avenue."

    def cand(article: str, text: str, lexical: float) -> Candidate:
        hit = _report(article, text, "Flag", "2024-05-22")
        return Candidate(hit=hit, start=0, end=len(text), text=text, semantic=0.7,
                         lexical=lexical, score=0.6, answers=0.9)

    def named(text: str, name: str) -> Entity:
        start = text.index(name)
        return Entity(start=start, end=start + len(name), label="ORG", text=name)

    vecs = np.array([[1.0, 0.0], [0.8, 0.6]])  # close in meaning (cosine 0.8)

    def rivals(text: str, name: str, lexical: float, tuning: ExtractiveTuning) -> bool:
        cands = [cand("a", lead, 0.5), cand("b", text, lexical)]
        phrases = {0: [named(lead, "the Post Office")], 1: [named(text, name)]}
        return bool(Versions(None, tuning).rival_answers(cands, vecs, phrases, [[0]],
                                                         (0, phrases[0][0]), threshold=0.69))

    assert not rivals(other, "The Times", 0.2, ExtractiveTuning())
    assert rivals(told_again, "the Town Hall", 0.5, ExtractiveTuning())
    # Without the rule, the older report was shown as a second version.
    assert rivals(other, "The Times", 0.2, ExtractiveTuning(rival_words=0.0))


def test_two_versions_from_one_outlet_say_which_report_gives_each(reader: Runtime,
                                                                   embedder) -> None:
    """"Example Daily gives Lyon; Example Daily gives Marseille" names no report: when one
    outlet gives both versions, each is told by its report's date."""
    from assistant.answer.extractive import ExtractiveAnswerer

    said = "The Harbour Lights festival will take place in {} this summer, organisers confirmed."
    hits = [_report("early", said.format("Lyon"), "Festival", "2026-05-04"),
            _report("late", said.format("Marseille"), "Festival", "2026-05-05", score=0.9)]
    question = "Which city will host the Harbour Lights festival this summer?"
    answer = ExtractiveAnswerer(embedder, reading_model(), Combination.load(), tagger=reader.tagger).answer(
        question, embedder.embed([question])[0], hits)
    assert answer.answer.startswith(
        "The reports differ: Example Daily (2026-05-04) gives Lyon [1]; "
        "Example Daily (2026-05-05) gives Marseille [2]."), answer.answer
    assert answer.conflicts


def test_a_name_a_quotation_closes_inside_is_one_name_stated_whole(reader: Runtime,
                                                                   embedder) -> None:
    """'of "the lasting promise of Ashford" College': the tagger's name holds the closing
    quotation mark. It is the college another report names plainly, not a second version,
    and the answer states it without the stray mark."""
    from assistant.answer.extractive import ExtractiveAnswerer

    hits = [_report("sun", 'Governor Maria Lee on Sunday told graduates of "the lasting promise '
                    'of Ashford" College in a commencement address that drew protests.',
                    "Lee speaks at Ashford", "2026-05-19", source="Valley Post"),
            _report("thu", "Police will keep protesters away from Governor Maria Lee's "
                    "commencement address at Ashford College on Sunday, the school said.",
                    "Security for Lee's visit", "2026-05-16", source="Valley Post", score=0.9)]
    question = "At which college did Governor Maria Lee deliver a commencement address?"
    answer = ExtractiveAnswerer(embedder, reading_model(), Combination.load(),
                                tagger=reader.tagger).answer(
        question, embedder.embed([question])[0], hits)
    assert answer.answer.startswith("Ashford College [1]."), answer.answer
    assert not answer.conflicts


def test_who_speaks_in_a_sentence_is_not_what_it_states(reader: Runtime, embedder) -> None:
    """"Who founded the museum?": the curator quoted about the founder is the source of the
    statement, not its answer; a question about what someone said may be answered by them."""
    text = ("Anna Weber, a curator at the City Museum, said the founder of the museum had "
            "loved the harbour. The City Museum was opened in 1901 by the shipowner Karl "
            "Brandt.")
    question = "Who founded the City Museum?"
    answer = _from_one_passage(text, question, reader, embedder)
    assert answer.answer.startswith("Karl Brandt [1]."), answer.answer
    said = _from_one_passage(text, "Who said the founder of the City Museum loved the harbour?",
                             reader, embedder)
    assert said.answer.startswith("Anna Weber [1]."), said.answer


def test_a_place_asked_about_must_be_in_what_was_retrieved(reader: Runtime, embedder) -> None:
    """A round-up ("Manchester: wildlife officials closed ...") names Missouri in another
    item: a question about Missouri is not answered from the Maryland item. A person the
    question names may be anywhere in the article (a report names its people once, then
    says "the mayor")."""
    from assistant.answer.extractive import ExtractiveAnswerer, ExtractiveTuning

    def ask(question: str, text: str, article_names: bool = True) -> Answer:
        # ``names``: whether the whole article (not what was retrieved of it) names them.
        answerer = ExtractiveAnswerer(embedder, reading_model(), Combination.load(),
                                      ExtractiveTuning(), tagger=reader.tagger,
                                      corpus=StatedCorpus(names=article_names))
        return answerer.answer(question, embedder.embed([question])[0],
                               [_report("roundup", text, "Around the states", "2024-08-28")])

    item = ("Manchester: Wildlife officials closed the river trail on Tuesday after five bald "
            "eagles were found sick near the water.")
    question = "Why did wildlife officials in Missouri close the river trail?"
    assert ask(question, item).abstained
    mayor = ("The mayor closed the river trail on Tuesday after five bald eagles were found "
             "sick near the water.")
    answer = ask("Why did Mayor Ann Lee close the river trail?", mayor)
    assert not answer.abstained, answer.answer
    assert ask("Why did Mayor Ann Lee close the river trail?", mayor,
               article_names=False).abstained


def test_a_local_model_reads_the_best_sentences_verbatim_in_article_order(reader: Runtime,
                                                                          embedder) -> None:
    """What a model on this machine's CPU reads instead of whole chunks: the sentences the
    reader rates best, each an exact slice of its article at its own offsets (so every
    quote the model gives is checked against the article's words), the article's order
    kept and neighbours joined into one passage."""
    from assistant.answer.extractive import ExtractiveAnswerer

    text = ("The city council met on Tuesday. The council approved a new bridge over the "
            "river. It will cost 40 million euros. Work starts in March. The mayor thanked "
            "the engineers. Parking fees rise next year. A new park opens in the north.")
    # As retrieved from a store: with the sentence spans ingestion found.
    hit = replace(_report("b", text, "Council news", "2024-01-30"), start=1000,
                  end=1000 + len(text), sentences=tuple(split_sentences(text)))
    answerer = ExtractiveAnswerer(embedder, reading_model(), Combination.load(),
                                  tagger=reader.tagger)
    question = "How much will the new bridge cost?"
    passages = answerer.passages(question, embedder.embed([question])[0], [hit], None, None, 3)
    assert passages and all(p.article_id == "b" for p in passages)
    for p in passages:
        assert text[p.start - 1000 : p.end - 1000] == p.text  # verbatim, at its offsets
        # A passage's sentences are its own, not those of the chunk it was cut from.
        assert p.sentence_spans() == tuple(split_sentences(p.text))
    assert [p.start for p in passages] == sorted(p.start for p in passages)
    read = " ".join(p.text for p in passages)
    assert "40 million euros" in read
    assert len(read) < len(text)  # fewer words than the chunk: what makes it fast
