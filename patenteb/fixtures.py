"""Tiny PatenTEB-shaped data for all 15 tasks, in the exact dataset-card columns, built from real USPTO abstracts.

For tests and benches only: scores on it are never PatenTEB scores. The released PatenTEB data is gated, so
tests and the bench run on this stand-in. Every task draws its rows
from one pool of real patents, as PatenTEB's tasks draw from one set of test families, so the same abstract
can turn up in several tasks. Fields the sample lacks are derived from the abstract and its CPC codes:
title = the first words of the abstract, problem = its first sentence, solution = the rest, effect = its last
sentence, substance = its second sentence; "citations" link patents of the same class (IN), the same section
but another class (MIXED) or another section (OUT); inventor clusters are stood in for by the CPC class.
The same arguments always give the same files.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from patenteb import catalogue
from patenteb.shipped import USPTO_SAMPLE

SENTENCE_END = re.compile(r"(?<=[.;])\s+(?=[A-Z(])")
TITLE_WORDS = 8


def _hash_fraction(salt: str, value: str) -> float:
    """A number in [0, 1) fixed by `salt` and `value`: deterministic sampling without a random generator."""
    return int(hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()[:8], 16) / 16**8


def _seed(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in SENTENCE_END.split(text) if part.strip()]


def patent_pool(size: int = 150) -> pd.DataFrame:
    """`size` labelled patents with at least three sentences, in a fixed order, with their derived fields."""
    columns = ["id", "publication_date", "text", "first_section", "first_class", "first_subclass"]
    patents = pd.read_parquet(USPTO_SAMPLE, columns=columns).dropna(subset=["first_class"]).drop_duplicates("text")
    patents["sentences"] = patents["text"].map(_sentences)
    patents = patents[patents["sentences"].map(len) >= 3]
    patents = patents.assign(order=patents["id"].map(lambda value: _hash_fraction("pool", value)))
    pool = patents.sort_values("order").head(size).reset_index(drop=True)
    words = pool["text"].str.split()
    pool["title"] = words.map(lambda parts: " ".join(parts[:TITLE_WORDS]))
    pool["without_title"] = words.map(lambda parts: " ".join(parts[TITLE_WORDS:]))
    pool["problem"] = pool["sentences"].map(lambda parts: parts[0])
    pool["solution"] = pool["sentences"].map(lambda parts: " ".join(parts[1:]))
    pool["effect"] = pool["sentences"].map(lambda parts: parts[-1])
    pool["without_effect"] = pool["sentences"].map(lambda parts: " ".join(parts[:-1]))
    pool["substance"] = pool["sentences"].map(lambda parts: parts[1])
    pool["year"] = pool["publication_date"].str[:4].astype(int)
    pool["class_count"] = pool.groupby("first_class")["id"].transform("count").astype(int)
    return pool


def _rows(pool: pd.DataFrame, salt: str, share: float) -> pd.DataFrame:
    """A task's own subset of the pool, chosen by a salted hash so tasks overlap as independent samples do."""
    return pool[pool["id"].map(lambda value: _hash_fraction(salt, value) < share)].reset_index(drop=True)


def _related(query: pd.Series, others: pd.DataFrame, objective: str) -> pd.Series:
    same_class = others["first_class"] == query["first_class"]
    same_section = others["first_section"] == query["first_section"]
    return {"IN": same_class, "MIXED": same_section & ~same_class, "OUT": ~same_section}[objective]


def _triplets(pool: pd.DataFrame, objective: str, positives_per_query: int = 2) -> pd.DataFrame:
    negative_domain = {"IN": "FULL_MIX", "MIXED": "PART_MIX", "OUT": "OUT"}[objective]
    generator = np.random.default_rng(_seed(objective))
    rows = []
    for _, query in _rows(pool, f"retrieval_{objective}", 0.35).iterrows():
        others = pool[pool["id"] != query["id"]]
        candidates = others[_related(query, others, objective)]
        if candidates.empty:
            continue
        negatives = others[others["first_section"] != query["first_section"]]
        chosen = generator.choice(len(candidates), size=min(positives_per_query, len(candidates)), replace=False)
        for position in chosen:
            positive = candidates.iloc[position]
            negative = negatives.iloc[generator.integers(len(negatives))]
            rows.append(
                {
                    "q": query["id"],
                    "neg": negative["id"],
                    "pos": positive["id"],
                    "pos_link_type": "CITES" if positive["year"] <= query["year"] else "CITED_BY",
                    "neg_computed_domain": negative_domain,
                    "objective": objective,
                    "q_text": query["text"],
                    "pos_text": positive["text"],
                    "neg_text": negative["text"],
                }
            )
    return pd.DataFrame(rows)


def _asymmetric(pool: pd.DataFrame, task: str, query_field: str, target_field: str, target_column: str) -> pd.DataFrame:
    rows = _rows(pool, task, 0.3)
    return pd.DataFrame(
        {
            "first_ipcr3": rows["first_class"],
            "q": rows["id"],
            query_field: rows[query_field],
            target_column: rows[target_field],
            "first_ipcr3_count": rows["class_count"],
        }
    )


def _bloom_label(year: int) -> str:
    return "early" if year <= 2008 else "late" if year >= 2015 else "normal"


def _classification(pool: pd.DataFrame, task: str) -> dict[str, pd.DataFrame]:
    rows = _rows(pool, task, 0.5)
    in_test = rows["id"].map(lambda value: _hash_fraction("test", value) < 0.4)
    return {"train": _classification_rows(rows[~in_test], task), "test": _classification_rows(rows[in_test], task)}


def _classification_rows(part: pd.DataFrame, task: str) -> pd.DataFrame:
    part = part.reset_index(drop=True)
    if task == "class_bloom":
        return pd.DataFrame({"q": part["id"], "text": part["text"], "label": part["year"].map(_bloom_label)})
    if task == "class_text2ipc3":
        return pd.DataFrame(
            {
                "first_ipcr3": part["first_class"],
                "label": part["first_class"],
                "q": part["id"],
                "text": part["text"],
                "first_ipcr3_count": part["class_count"],
            }
        )
    partners = part.iloc[np.roll(np.arange(len(part)), 1)].reset_index(drop=True)
    return pd.DataFrame(
        {
            "first_ipcr3": part["first_class"],
            "label": (part["publication_date"] > partners["publication_date"]).astype(int),
            "q": part["id"],
            "t": partners["id"],
            "q_text": part["text"],
            "t_text": partners["text"],
            "first_ipcr3_count": part["class_count"],
        }
    )


def _clusters(pool: pd.DataFrame, task: str, label_field: str) -> pd.DataFrame:
    rows = _rows(pool, task, 0.6)
    rows = rows[rows.groupby(label_field)["id"].transform("count") >= 3]
    return pd.DataFrame({"q": rows["id"], "text": rows["text"], "cluster_id": rows[label_field]}).reset_index(drop=True)


def _pairs(pool: pd.DataFrame, task: str, text_field: str) -> pd.DataFrame:
    rows = _rows(pool, task, 0.5)
    generator = np.random.default_rng(_seed(task))
    pairs = []
    for _, first in rows.iterrows():
        same_class = rows[(rows["first_class"] == first["first_class"]) & (rows["id"] != first["id"])]
        other_section = rows[rows["first_section"] != first["first_section"]]
        positive = not same_class.empty and generator.random() < 0.3
        partner_pool = same_class if positive else other_section
        if partner_pool.empty:
            continue
        second = partner_pool.iloc[generator.integers(len(partner_pool))]
        pairs.append(
            {
                "first_ipcr3": first["first_class"],
                "label": int(positive),
                "q": first["id"],
                "t": second["id"],
                "text1": first[text_field],
                "text2": second[text_field],
                "first_ipcr3_count": int(first["class_count"]),
            }
        )
    return pd.DataFrame(pairs)


def patenteb_frames(pool_size: int = 150) -> dict[str, dict[str, pd.DataFrame]]:
    """{task: {split: rows}} for the 15 tasks."""
    pool = patent_pool(pool_size)
    frames: dict[str, dict[str, pd.DataFrame]] = {
        f"retrieval_{objective}": {"test": _triplets(pool, objective)} for objective in ("IN", "MIXED", "OUT")
    }
    for task, query_field, target_field, target_column in (
        ("title2full", "title", "without_title", "full_text"),
        ("problem2full", "problem", "solution", "full_text"),
        ("problem2solution", "problem", "solution", "solution"),
        ("effect2full", "effect", "without_effect", "full_text"),
        ("effect2substance", "effect", "substance", "substance"),
    ):
        frames[task] = {"test": _asymmetric(pool, task, query_field, target_field, target_column)}
    for task in ("class_bloom", "class_nli_oldnew", "class_text2ipc3"):
        frames[task] = _classification(pool, task)
    frames["clusters_ext_full_ipc"] = {"test": _clusters(pool, "clusters_ext_full_ipc", "first_subclass")}
    frames["clusters_inventor"] = {"test": _clusters(pool, "clusters_inventor", "first_class")}
    frames["para_problem"] = {"test": _pairs(pool, "para_problem", "problem")}
    frames["para_solution"] = {"test": _pairs(pool, "para_solution", "solution")}
    return {
        task: {split: frame[list(catalogue.task(task).columns)] for split, frame in splits.items()}
        for task, splits in frames.items()
    }


def write_patenteb_fixtures(folder: Path, pool_size: int = 150) -> Path:
    """Write `<folder>/<task>/<split>/data.parquet` for the 15 tasks and return `folder`."""
    folder = Path(folder)
    for task, splits in patenteb_frames(pool_size).items():
        for split, frame in splits.items():
            path = folder / task / split / "data.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(path, index=False)
    return folder


if __name__ == "__main__":
    import sys

    for task, splits in patenteb_frames().items():
        print(task, {split: len(frame) for split, frame in splits.items()})
    if len(sys.argv) > 1:
        print(write_patenteb_fixtures(Path(sys.argv[1])))
