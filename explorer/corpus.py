"""The patents the explorer searches and maps: the shipped USPTO sample, or any parquet/JSONL with id, text, codes."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.errors import ExplorerError, UnknownPatent
from patenteb import settings
from patenteb.shipped import USPTO_SAMPLE as SHIPPED_CORPUS

SECTION_TITLES = {
    "A": "Human necessities",
    "B": "Performing operations; transporting",
    "C": "Chemistry; metallurgy",
    "D": "Textiles; paper",
    "E": "Fixed constructions",
    "F": "Mechanical engineering; lighting; heating; weapons; blasting",
    "G": "Physics",
    "H": "Electricity",
    "Y": "General tagging of new technological developments",
}
UNLABELLED = "unlabelled"
COLUMN_ALIASES = {"patent_id": "id", "abstract": "text", "classifications_cpc": "codes"}
CODE_SEPARATORS = re.compile(r"[;,|\n]+")


def default_corpus_path() -> Path:
    return settings.explorer_corpus() or SHIPPED_CORPUS


@dataclass(frozen=True, eq=False)
class Corpus:
    """Documents in a fixed order: a document's position is its row in every index and projection.

    `frame` columns: id, text, codes (list of symbols), first_code, first_section, first_class, first_subclass.
    """

    name: str
    frame: pd.DataFrame
    content_hash: str
    _masks: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.frame)

    @cached_property
    def ids(self) -> np.ndarray:
        return self.frame["id"].to_numpy(dtype=object)

    @cached_property
    def texts(self) -> list[str]:
        return self.frame["text"].tolist()

    @cached_property
    def sections(self) -> np.ndarray:
        """First-code section per document, "" when the document has no code."""
        return self.frame["first_section"].fillna("").to_numpy(dtype=object)

    @cached_property
    def classes(self) -> list[str | None]:
        return self.frame["first_class"].tolist()

    @cached_property
    def codes(self) -> list[list[str]]:
        return self.frame["codes"].tolist()

    @cached_property
    def _position_by_id(self) -> dict[str, int]:
        return {patent_id: position for position, patent_id in enumerate(self.ids)}

    def position_of(self, patent_id: str) -> int:
        position = self._position_by_id.get(patent_id.strip())
        if position is None:
            raise UnknownPatent(f"no patent with id {patent_id.strip()!r} in the corpus {self.name}")
        return position

    def section_mask(self, section: str) -> np.ndarray:
        """Documents whose first code is in `section` (a CPC section letter)."""
        if section not in self._masks:
            self._masks[section] = self.sections == section
        return self._masks[section]

    def present_sections(self) -> list[str]:
        return sorted(section for section in set(self.sections) if section)


def load_corpus(path: str | os.PathLike | None = None) -> Corpus:
    """Read a corpus file once per process (reloaded when the file changes)."""
    path = Path(path) if path is not None else default_corpus_path()
    path = path.expanduser().resolve()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ExplorerError(f"corpus file not found: {path}") from None
    return _load_corpus(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load_corpus(path: str, mtime_ns: int, size: int) -> Corpus:
    frame = normalise_frame(read_table(Path(path)), source=path)
    return Corpus(name=Path(path).name, frame=frame, content_hash=corpus_hash(frame))


def read_table(path: Path) -> pd.DataFrame:
    suffixes = "".join(path.suffixes).lower()
    try:
        if suffixes.endswith(".parquet"):
            return pd.read_parquet(path)
        if suffixes.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
            return pd.read_json(path, lines=True, dtype=False)
        if suffixes.endswith(".json"):
            return pd.read_json(path, dtype=False)
    except (ValueError, OSError) as error:
        raise ExplorerError(f"cannot read the corpus {path}: {error}") from error
    raise ExplorerError(f"unsupported corpus format {path.name!r}: use .parquet or .jsonl")


def normalise_frame(raw: pd.DataFrame, source: str = "corpus") -> pd.DataFrame:
    """Rename known aliases, check id/text, parse codes, derive first section/class/subclass."""
    frame = raw.rename(columns={old: new for old, new in COLUMN_ALIASES.items() if new not in raw.columns})
    missing = [column for column in ("id", "text") if column not in frame.columns]
    if missing:
        raise ExplorerError(f"{source} lacks the column(s) {', '.join(missing)} (needs id, text and optionally codes)")
    frame = frame.reset_index(drop=True)
    ids = frame["id"].astype("string").str.strip()
    if ids.isna().any() or (ids == "").any():
        raise ExplorerError(f"{source} has rows without an id")
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise ExplorerError(f"{source} repeats ids, e.g. {duplicated.iloc[0]!r} ({len(duplicated)} repeats)")
    texts = frame["text"].astype("string")
    empty = texts.isna() | (texts.str.strip() == "")
    if empty.any():
        raise ExplorerError(f"{source} has {int(empty.sum())} row(s) without text, e.g. id {ids[empty].iloc[0]!r}")
    if len(frame) == 0:
        raise ExplorerError(f"{source} has no rows")
    codes = [parse_codes(value) for value in frame["codes"]] if "codes" in frame.columns else [[] for _ in ids]
    first_codes = [entry[0] if entry else None for entry in codes]
    columns = {
        "id": ids.tolist(),
        "text": texts.tolist(),
        "codes": codes,
        "first_code": first_codes,
        "first_section": [code[0] if code and code[0] in SECTION_TITLES else None for code in first_codes],
        "first_class": [code[:3] if code and len(code) >= 3 else None for code in first_codes],
        "first_subclass": [code[:4] if code and len(code) >= 4 else None for code in first_codes],
    }
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})


def parse_codes(value) -> list[str]:
    """Classification symbols from a list/array or a string separated by ; , | or newlines; spaces dropped."""
    if isinstance(value, str):
        items = CODE_SEPARATORS.split(value)
    elif pd.api.types.is_scalar(value):
        return []
    else:
        items = list(value)
    return [str(item).strip().upper().replace(" ", "") for item in items if item is not None and str(item).strip()]


def corpus_hash(frame: pd.DataFrame) -> str:
    """A short fingerprint of ids, texts and codes in order: any change gives a new index and new maps."""
    digest = hashlib.sha256()
    for patent_id, text, codes in zip(frame["id"], frame["text"], frame["codes"]):
        digest.update(f"{patent_id}\x1f{text}\x1f{';'.join(codes)}\x1e".encode())
    return digest.hexdigest()[:16]
