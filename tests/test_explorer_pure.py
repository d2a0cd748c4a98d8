"""Explorer parts that need no model: corpus loading, the registry, top-k, overlaps, highlighting, figures."""

from __future__ import annotations

import html
import itertools
import json
import logging
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from explorer.corpus import SHIPPED_CORPUS, load_corpus, normalise_frame, parse_codes
from explorer.builds import BUILDING, FAILED, READY, WAITING, BuildStatus
from explorer.errors import BadQuery, ExplorerError, UnknownModel, UnknownPatent
from explorer.maps import colour_labels, lexical_vectors, map_figure, message_figure, sample_positions
from explorer.registry import load_registry
from explorer.render import is_preparing, preparation_markdown, results_html
from explorer.service import Comparison, ModelResult, checked_k, checked_models, checked_query, model_description, picker_label
from patenteb.plots import failure_drawn
from explorer.search import (
    highlight_terms,
    jaccard_at_k,
    rank_biased_overlap,
    section_share,
    snippet_html,
    term_pattern,
    top_k,
)


def test_shipped_corpus_keeps_every_row_and_its_labels():
    corpus = load_corpus(SHIPPED_CORPUS)
    raw = pd.read_parquet(SHIPPED_CORPUS)
    assert len(corpus) == len(raw)
    assert corpus.ids.tolist() == raw["id"].tolist()
    unlabelled = corpus.sections == ""
    assert unlabelled.sum() == sum(len(codes) == 0 for codes in raw["codes"])
    labelled = raw[~unlabelled]
    assert (corpus.frame.loc[~unlabelled, "first_class"] == labelled["first_code"].str[:3]).all()
    assert load_corpus(SHIPPED_CORPUS) is corpus


def test_jsonl_corpus_with_string_codes_and_aliases(tmp_path):
    path = tmp_path / "mini.jsonl"
    rows = [
        {"patent_id": "P1", "abstract": "A battery with a coated electrode.", "classifications_cpc": "H01M4/04; H01M10/05"},
        {"patent_id": "P2", "abstract": "A wind turbine blade.", "classifications_cpc": ["F03D1/06"]},
        {"patent_id": "P3", "abstract": "An unclassified gadget.", "classifications_cpc": None},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    corpus = load_corpus(path)
    assert corpus.ids.tolist() == ["P1", "P2", "P3"]
    assert corpus.codes == [["H01M4/04", "H01M10/05"], ["F03D1/06"], []]
    assert corpus.sections.tolist() == ["H", "F", ""]
    assert corpus.classes == ["H01", "F03", None]
    assert corpus.position_of("P2") == 1
    with pytest.raises(UnknownPatent, match="P9"):
        corpus.position_of("P9")


def test_corpus_hash_follows_content(tmp_path):
    first = normalise_frame(pd.DataFrame({"id": ["a", "b"], "text": ["one", "two"]}))
    path_a, path_b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    first.to_parquet(path_a)
    first.assign(text=["one", "two!"]).to_parquet(path_b)
    assert load_corpus(path_a).content_hash != load_corpus(path_b).content_hash
    copy = tmp_path / "copy.parquet"
    first.to_parquet(copy)
    assert load_corpus(copy).content_hash == load_corpus(path_a).content_hash


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"id": ["a"]}), "text"),
        (pd.DataFrame({"id": ["a", "a"], "text": ["x", "y"]}), "repeats ids"),
        (pd.DataFrame({"id": ["a", "b"], "text": ["x", " "]}), "without text"),
    ],
)
def test_bad_corpus_is_explained(frame, message):
    with pytest.raises(ExplorerError, match=message):
        normalise_frame(frame)


def test_unreadable_corpus_files_are_explained(tmp_path):
    with pytest.raises(ExplorerError, match="not found"):
        load_corpus(tmp_path / "missing.jsonl")
    odd = tmp_path / "corpus.csv"
    odd.write_text("id,text\n1,x\n")
    with pytest.raises(ExplorerError, match="unsupported"):
        load_corpus(odd)


def test_parse_codes_accepts_lists_strings_and_nothing():
    assert parse_codes(np.array(["g06f 16/00", "H04L9/32"])) == ["G06F16/00", "H04L9/32"]
    assert parse_codes("A61B17/00|A61B17/068") == ["A61B17/00", "A61B17/068"]
    assert parse_codes(None) == [] and parse_codes(float("nan")) == [] and parse_codes([]) == []


def test_shipped_registry_has_offline_defaults_and_a_hybrid_that_says_how_it_fuses():
    registry = load_registry()
    assert [spec.name for spec in registry.defaults()] == [
        "bm25", "sentence-transformers/all-MiniLM-L6-v2", "wordllama/l2_supercat-256", "hybrid/bm25+all-MiniLM-L6-v2"
    ]
    assert len({spec.kind for spec in registry.dense()}) >= 3
    hybrid = registry.get("hybrid/bm25+all-MiniLM-L6-v2")
    assert picker_label(hybrid) == "Hybrid BM25 + MiniLM, reciprocal rank fusion, k=60"
    assert model_description(registry, hybrid) == (
        "BM25 (bm25s) + all-MiniLM-L6-v2, reciprocal rank fusion, k=60, over each one's top 100"
    )
    assert picker_label(registry.get("bm25")) == "BM25 (bm25s)"
    with pytest.raises(UnknownModel, match="known: bm25"):
        registry.get("no/such-model")


@pytest.mark.parametrize(
    "query, message",
    [
        ("", "the query is empty"),
        ("  \n\t ", "the query is empty"),
        ("a" * 20_001, "20,001 characters long; at most 20,000"),
        ("x" * 100_000, "100,000 characters long"),
        ("bat\x00tery", "control character (U+0000)"),
        ("battery\x1b[31m", "control character (U+001B)"),
        ("bat\x85tery", "control character (U+0085)"),
    ],
)
def test_bad_queries_are_refused_with_a_reason(query, message):
    with pytest.raises(BadQuery, match=re.escape(message)):
        checked_query(query)


def test_a_good_query_is_kept_whole_with_its_line_breaks():
    assert checked_query("  a\tbattery\r\nelectrode  ") == "a\tbattery\r\nelectrode"
    assert checked_query("é" * 20_000) == "é" * 20_000


@pytest.mark.parametrize(
    "k, expected",
    [(1, 1), (100, 100), ("7", 7), (10.0, 10), (0, "from 1 to 100, got 0"), (101, "got 101"), (-3, "got -3"),
     (2.5, "whole number"), ("ten", "whole number"), (None, "whole number"), (True, "whole number")],
)
def test_k_is_a_whole_number_within_its_range(k, expected):
    if isinstance(expected, int):
        assert checked_k(k) == expected
    else:
        with pytest.raises(BadQuery, match=expected):
            checked_k(k)


def test_models_are_known_distinct_and_at_most_four():
    registry = load_registry()
    minilm = "sentence-transformers/all-MiniLM-L6-v2"
    assert checked_models(registry, [" bm25", minilm, "bm25 "]) == ("bm25", minilm)
    with pytest.raises(BadQuery, match="at least one model"):
        checked_models(registry, ["", "  "])
    with pytest.raises(UnknownModel, match="unknown model 'bm26'"):
        checked_models(registry, ["bm25", "bm26"])
    with pytest.raises(BadQuery, match="at most 4 models at once, got 5"):
        checked_models(registry, registry.names())


def test_preparation_panel_lists_models_until_all_are_ready():
    waiting = [
        BuildStatus("bm25", "BM25", READY, message="index built here"),
        BuildStatus("m", "MiniLM", BUILDING, done=250, total=1000, stage="indexing", message="no index yet"),
        BuildStatus("e5", "e5", FAILED, message="e5 cannot be loaded: no wheel"),
        BuildStatus("h", "Hybrid <b>", WAITING),
    ]
    text = preparation_markdown(waiting, "Computing a UMAP map (started 3 s ago)")
    assert "1 of 4 ready" in text and "- ⏳ MiniLM: building 25% (indexing; no index yet)" in text
    assert "- ❌ e5: failed (e5 cannot be loaded: no wheel)" in text and "Hybrid &lt;b&gt;" in text
    assert text.endswith("🗺️ Computing a UMAP map (started 3 s ago)")
    assert is_preparing(waiting)
    done = [BuildStatus("bm25", "BM25", READY), BuildStatus("e5", "e5", FAILED, message="no wheel")]
    assert not is_preparing(done)
    assert preparation_markdown([replace(status, state=READY) for status in waiting]).startswith("✅ Models ready: BM25")
    assert preparation_markdown([]) == ""


def test_lexical_map_vectors_are_normalised_and_separate_topics():
    texts = [f"battery electrode lithium cell {i} anode" for i in range(20)] + [
        f"turbine blade wind rotor {i} noise" for i in range(20)
    ]
    vectors = lexical_vectors(texts)
    assert vectors.dtype == np.float32 and vectors.shape[0] == 40 and vectors.shape[1] <= 100
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[:20, :20].mean() > similarity[:20, 20:].mean() + 0.5


@pytest.mark.parametrize(
    "text, message",
    [
        ("[[models]\n", "not valid TOML"),
        ('[[models]]\nname = "x"\nkind = "word2vec"\n', "kind"),
        ('[[models]]\nname = "x"\nkind = "bm25"\ncolour = "red"\n', "unknown key"),
        ('[[models]]\nname = "x"\nkind = "sentence-transformers"\n', "needs hub_id"),
        ('[[models]]\nname = "x"\nkind = "bm25"\n[[models]]\nname = "x"\nkind = "bm25"\n', "twice"),
    ],
)
def test_bad_registry_is_explained(tmp_path, text, message):
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(ExplorerError, match=message):
        load_registry(path)


def test_registry_paths_are_relative_to_the_file(tmp_path):
    path = tmp_path / "models.toml"
    path.write_text('[[models]]\nname = "local"\nkind = "sentence-transformers"\npath = "models/tiny"\n')
    assert load_registry(path).get("local").path == str(tmp_path / "models" / "tiny")


def test_top_k_matches_a_full_sort_and_respects_the_filter():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=500).astype(np.float32)
    allowed = rng.random(500) > 0.7
    for k in (1, 7, 50):
        positions, values = top_k(scores, k)
        assert positions.tolist() == np.argsort(-scores, kind="stable")[:k].tolist()
        assert np.array_equal(values, scores[positions])
        filtered, _ = top_k(scores, k, allowed)
        candidates = np.flatnonzero(allowed)
        expected = candidates[np.argsort(-scores[candidates], kind="stable")][:k]
        assert filtered.tolist() == expected.tolist()
    assert top_k(scores, 10, np.zeros(500, dtype=bool))[0].size == 0
    assert top_k(scores[:3], 10)[0].size == 3


def test_jaccard_at_k():
    assert jaccard_at_k(["a", "b", "c"], ["c", "b", "a"]) == 1.0
    assert jaccard_at_k(["a", "b"], ["c", "d"]) == 0.0
    assert jaccard_at_k(["a", "b", "c", "d"], ["a", "b", "x", "y"]) == pytest.approx(2 / 6)


def _rbo_by_definition(first, second, p, depth):
    """Eq. 32 of Webber et al. written out with explicit set intersections at each depth."""
    agreements = [len(set(first[:d]) & set(second[:d])) / d for d in range(1, depth + 1)]
    return agreements[-1] * p**depth + (1 - p) / p * sum(a * p**d for d, a in enumerate(agreements, start=1))


def test_rank_biased_overlap_properties_and_definition():
    ranking = list("abcdefghij")
    assert rank_biased_overlap(ranking, ranking) == pytest.approx(1.0)
    assert rank_biased_overlap(ranking, list("klmnopqrst")) == 0.0
    top_swapped = list("bacdefghij")
    bottom_swapped = list("abcdefghji")
    assert rank_biased_overlap(ranking, bottom_swapped) > rank_biased_overlap(ranking, top_swapped)
    rng = np.random.default_rng(0)
    for _ in range(20):
        first = list(rng.permutation(15)[:10])
        second = list(rng.permutation(15)[:10])
        expected = _rbo_by_definition(first, second, 0.9, 10)
        assert rank_biased_overlap(first, second) == pytest.approx(expected)
        assert rank_biased_overlap(first, second) == pytest.approx(rank_biased_overlap(second, first))


def test_section_share():
    assert section_share(["G", "G", "H", "G"], "G") == 0.75
    assert section_share(["G"], None) is None
    assert section_share([], "G") is None


def test_snippet_highlights_whole_words_and_escapes_html():
    terms = highlight_terms("The Battery electrodes <script>", frozenset({"the"}))
    assert terms == ["battery", "electrodes", "script"]
    html = snippet_html("Batteries & electrodes: a <script> battery-pack, not batteryless.", term_pattern(terms))
    assert "<mark>Batteries</mark>" in html and "<mark>electrodes</mark>" in html
    assert "&lt;<mark>script</mark>&gt;" in html and "<script>" not in html
    assert "<mark>battery</mark>-pack" in html and "batteryless" in html and "<mark>batteryless" not in html


def test_snippet_windows_a_long_text_around_the_first_match():
    text = " ".join(f"word{i}" for i in range(200)) + " antenna " + " ".join(f"tail{i}" for i in range(200))
    html = snippet_html(text, term_pattern(["antenna"]), width=200)
    assert html.startswith("… ") and html.endswith(" …") and "<mark>antenna</mark>" in html
    assert len(html) < 260


def test_samples_are_reproducible_and_nested_in_the_corpus():
    label, positions = sample_positions(10_000, 1000)
    again_label, again = sample_positions(10_000, 1000)
    assert label == again_label and np.array_equal(positions, again)
    assert len(set(positions)) == 1000 and positions.max() < 10_000
    assert sample_positions(300, 1000)[0] == "all-300"


def _points(sections, classes):
    n = len(sections)
    return pd.DataFrame(
        {
            "x": np.arange(n, dtype=float), "y": np.arange(n, dtype=float), "id": [f"P{i}" for i in range(n)],
            "codes": ["c"] * n, "start": ["s"] * n, "first_section": sections, "first_class": classes,
        }
    )


def test_colour_labels_group_rare_classes_as_other():
    classes = ["G06"] * 5 + ["H04"] * 4 + ["A61"] * 3 + ["B65"] + [None]
    points = _points([c[0] if c else None for c in classes], classes)
    labels = colour_labels(points, "class", top_n=2)
    assert labels.tolist() == ["G06"] * 5 + ["H04"] * 4 + ["other"] * 4 + ["unlabelled"]
    assert colour_labels(points, "section").iloc[0].startswith("G · Physics")


def test_map_figure_draws_one_trace_per_label_and_turns_errors_into_messages(caplog):
    points = _points(["G", "G", "H", None], ["G06", "G01", "H04", None])
    figure = map_figure(points, colour_by="section")
    assert len(figure.data) == 3 and failure_drawn(figure) is None
    assert sum(len(trace.x) for trace in figure.data) == 4
    empty = map_figure(points.iloc[:0])
    assert not empty.data and "no points" in empty.layout.annotations[0].text
    with caplog.at_level(logging.ERROR, logger="patenteb.plots"):
        broken = map_figure(points, colour_by="rainbow")
    assert "Cannot draw this map: ValueError: unknown colouring" in failure_drawn(broken)
    assert [record.exc_info[0] for record in caplog.records] == [ValueError]
    assert message_figure("hello").layout.annotations[0].text == "hello"


def test_every_rbo_is_within_bounds():
    items = list("abcdef")
    for first, second in itertools.product(itertools.permutations(items, 3), repeat=2):
        assert 0.0 <= rank_biased_overlap(first, second) <= 1.0 + 1e-12


def test_a_hybrid_column_says_how_it_fuses():
    recipe = "BM25 (bm25s) + all-MiniLM-L6-v2, reciprocal rank fusion, k=60, over each one's top 100"
    comparison = Comparison(query="q", patent_id=None, query_section=None, section_filter=None, k=10, terms=[])
    comparison.results.append(ModelResult("hybrid", "Hybrid <BM25> + MiniLM", [], 0.01, description=recipe))
    comparison.results.append(ModelResult("bm25", "BM25", [], 0.01))
    page = results_html(comparison, corpus=None)
    assert page.count("explorer-recipe") == 1
    assert f'<p class="explorer-meta explorer-recipe">{html.escape(recipe)}</p>' in page
    assert "Hybrid &lt;BM25&gt; + MiniLM" in page
