"""Processes sharing one embedding cache folder share the encoding: a text two of them need at once is encoded
once, and a process killed while it holds part of the work blocks no one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from evaluator.embedding_cache import SHARED_BUCKETS, SHARED_ENCODING_MIN_TEXTS, EmbeddingCache
from patenteb.shipped import patent_abstracts

REPO = Path(__file__).resolve().parent.parent
MODEL, REVISION = "test/tiny", "r1"

SHARER = """
import json, sys, time
from pathlib import Path
import numpy as np
from sentence_transformers import SentenceTransformer
from evaluator.embedding_cache import EmbeddingCache
folder, model_path, texts_path, go_path, vectors_path = sys.argv[1:]
model = SentenceTransformer(model_path, device="cpu")
texts = json.loads(Path(texts_path).read_text())
cache = EmbeddingCache(Path(folder), "test/tiny", "r1")

def encode_slowly(batch):
    time.sleep(0.05)
    return model.encode(batch, batch_size=64)

print("ready", flush=True)
while not Path(go_path).exists():
    time.sleep(0.01)
np.save(vectors_path, cache.embed(texts, encode_slowly))
print(json.dumps({"encoded": cache.stats.encoded}), flush=True)
"""

HOLDER = """
import sys, time
from contextlib import ExitStack
from pathlib import Path
from evaluator.embedding_cache import SHARED_BUCKETS, EmbeddingCache
namespace = EmbeddingCache(Path(sys.argv[1]), "test/tiny", "r1")._namespace("", None)
with ExitStack() as locks:
    for bucket in range(SHARED_BUCKETS):
        assert locks.enter_context(namespace.bucket_lock(bucket, wait=True))
    print("held", flush=True)
    time.sleep(600)
"""


def python(script: str, *arguments) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, arguments)], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.fixture(scope="module")
def texts() -> list[str]:
    abstracts = list(dict.fromkeys(patent_abstracts(700)))[:620]
    assert len(abstracts) == 620
    return abstracts


@pytest.mark.slow
def test_two_processes_needing_the_same_texts_at_once_encode_each_text_once(tmp_path, tiny_model_path, texts):
    shared, only_first, only_second = texts[:500], texts[500:560], texts[560:]
    assert len(shared) + len(only_first) >= SHARED_ENCODING_MIN_TEXTS
    go = tmp_path / "go"
    runs = []
    for name, own in (("first", only_first), ("second", only_second)):
        texts_path = tmp_path / f"{name}.json"
        texts_path.write_text(json.dumps(shared + own))
        process = python(SHARER, tmp_path / "cache", tiny_model_path, texts_path, go, tmp_path / f"{name}.npy")
        runs.append((name, shared + own, process))
    for _, _, process in runs:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
    go.touch()
    encoded = {}
    for name, _, process in runs:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        encoded[name] = json.loads(out.splitlines()[-1])["encoded"]

    assert sum(encoded.values()) == len(texts), f"texts encoded twice: {encoded}"
    assert all(count > 60 for count in encoded.values()), f"each did part of the shared texts: {encoded}"
    model = SentenceTransformer(str(tiny_model_path), device="cpu")
    expected = dict(zip(texts, model.encode(texts, batch_size=64)))
    for name, wanted, _ in runs:
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.npy"), [expected[text] for text in wanted], atol=1e-5)


@pytest.mark.slow
def test_a_process_killed_while_it_holds_texts_to_encode_does_not_block_the_others(tmp_path, tiny_model_path, texts):
    holder = python(HOLDER, tmp_path / "cache")
    assert holder.stdout.readline().strip() == "held", holder.stderr.read()
    model = SentenceTransformer(str(tiny_model_path), device="cpu")
    cache = EmbeddingCache(tmp_path / "cache", MODEL, REVISION)
    answer: dict[str, np.ndarray] = {}
    embedding = threading.Thread(target=lambda: answer.update(vectors=cache.embed(texts, model.encode)))
    embedding.start()
    embedding.join(timeout=2)
    assert embedding.is_alive() and not answer, "every bucket is held by the other process"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    embedding.join(timeout=120)
    assert not embedding.is_alive()
    assert cache.stats.encoded == len(texts)
    np.testing.assert_allclose(answer["vectors"], model.encode(texts), atol=1e-5)
    assert len(list((tmp_path / "cache").rglob("*.lock"))) == SHARED_BUCKETS
