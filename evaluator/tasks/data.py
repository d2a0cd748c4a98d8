"""Where PatenTEB rows come from: a local folder `<task>/<split>/data.parquet`, or the gated Hub dataset `datalyes/<task>`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from patenteb import catalogue, settings
from patenteb.catalogue import PATENTEB_HUB_ORGANISATION


class DataUnavailable(RuntimeError):
    """A task's data cannot be found or downloaded; the message says where it was looked for and what to do."""


class DataFormatError(ValueError):
    """A task's data was found but does not have the columns its dataset card lists."""


def local_path(data_dir: Path, task: str, split: str) -> Path:
    return Path(data_dir) / task / split / "data.parquet"


@dataclass(frozen=True)
class DataSource:
    """A local data folder when one is given (argument or $PATENTEB_DATA_DIR), else the Hub with $HF_TOKEN."""

    data_dir: Path | None = None
    hf_token: str | None = None
    commits: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """The Hub commit each dataset's `main` resolved to when it was first read; every split is read at it."""

    @classmethod
    def resolve(cls, data_dir: str | os.PathLike | None = None, hf_token: str | None = None) -> "DataSource":
        folder = Path(data_dir).expanduser() if data_dir else settings.data_dir()
        return cls(folder, hf_token or settings.hub_token())

    def describe(self, task: str) -> str:
        if self.data_dir is not None:
            return f"local folder {self.data_dir / task}"
        return f"Hub dataset {PATENTEB_HUB_ORGANISATION}/{task}"

    def read(self, task: str, split: str) -> pd.DataFrame:
        """The rows of one split with exactly the dataset card's columns, in the card's order.

        DataUnavailable when the split cannot be found; DataFormatError, naming the task and file, when it is not
        parquet, lacks a column of the card, or has no rows."""
        frame = self._read_local(task, split) if self.data_dir is not None else self._read_hub(task, split)
        where = self.describe_split(task, split)
        columns = catalogue.task(task).columns
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise DataFormatError(
                f"{task}: {where} lacks the column(s) {missing}; "
                f"the dataset card lists {list(columns)}, found {list(frame.columns)}"
            )
        if frame.empty:
            raise DataFormatError(f"{task}: {where} has no rows")
        return frame[list(columns)].reset_index(drop=True)

    def hub_commit(self, task: str) -> str | None:
        """The Hub commit the task's rows were read at; None for a local folder, or before the first read."""
        return None if self.data_dir is not None else self.commits.get(f"{PATENTEB_HUB_ORGANISATION}/{task}")

    def describe_split(self, task: str, split: str) -> str:
        if self.data_dir is not None:
            return str(local_path(self.data_dir, task, split))
        return f"Hub dataset {PATENTEB_HUB_ORGANISATION}/{task} ({split} split)"

    def _read_local(self, task: str, split: str) -> pd.DataFrame:
        import pyarrow

        path = local_path(self.data_dir, task, split)
        if not path.is_file():
            raise DataUnavailable(
                f"no data for {task} ({split} split): {path} does not exist; "
                f"the data folder must hold <task>/<split>/data.parquet"
            )
        try:
            return pd.read_parquet(path)
        except (pyarrow.ArrowException, OSError) as error:
            reason = " ".join(f"{type(error).__name__}: {error}".split())
            raise DataFormatError(f"{task}: {path} is not a readable parquet file ({reason})") from error

    def _read_hub(self, task: str, split: str) -> pd.DataFrame:
        from datasets import load_dataset

        repository = f"{PATENTEB_HUB_ORGANISATION}/{task}"
        try:
            if repository not in self.commits:
                from huggingface_hub import HfApi

                self.commits[repository] = HfApi().dataset_info(repository, revision="main", token=self.hf_token).sha
            dataset = load_dataset(repository, split=split, revision=self.commits[repository], token=self.hf_token)
        except Exception as error:
            if settings.datasets_offline():
                hint = "The Hub is switched off here (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)"
            elif self.hf_token:
                hint = "Check that the token's account accepted the dataset's terms"
            else:
                hint = "The dataset is gated: set HF_TOKEN to a token whose account accepted its terms"
            raise DataUnavailable(
                f"cannot load {repository} ({split} split): {type(error).__name__}: {error}. "
                f"{hint}, or pass a local data folder (--data-dir or ${settings.DATA_DIR.name})."
            ) from error
        return dataset.to_pandas()


def rows_digest(rows: pd.DataFrame) -> bytes:
    """A digest of a split's rows (values and column order, not the index)."""
    digest = hashlib.sha256("\x1f".join(map(str, rows.columns)).encode("utf-8"))
    digest.update(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    return digest.digest()


def content_revision(split_digests: Mapping[str, bytes]) -> str:
    """A revision name for rows that have no Hub commit (a local folder, the shipped demo), from the digests of
    the splits read: two runs on the same data name the same revision, runs on different data do not."""
    digest = hashlib.sha256()
    for split in sorted(split_digests):
        digest.update(split.encode("utf-8") + split_digests[split])
    return f"sha256:{digest.hexdigest()[:16]}"
