"""A synthetic, full-size PatenTEB workload for capacity measurements: all 15 tasks, never PatenTEB scores.

SYNTHETIC, FOR CAPACITY ONLY. The texts are real USPTO abstract sentences (explorer/data/uspto_random_10000.parquet)
recombined at random; labels, clusters, citations and relevance are invented. A model's scores on this data say
nothing about PatenTEB and must never be stored or shown as PatenTEB scores. What it does reproduce is the
released data's shape, so that a run on it costs what a run on the gated data would:

- every task in its dataset card's columns, as `<out>/<task>/<split>/data.parquet` (what `--data-dir` reads);
- the cards' test sizes and the shipped classification train subsets (the task catalogue, patenteb/catalogue.py),
  multiplied by `--scale` (1.0 = 319,320 test rows over 15 tasks + 64,851 train rows);
- text lengths: titles of 5-14 words, problem/effect/substance fragments of one sentence (spliced from two
  where a sentence would repeat) as queries, a ~150-word title + abstract as the patent text, a ~330-word "full text" (abstract, substance and claim-like
  sentences, with the query fragment removed as the cards describe);
- texts meant to be distinct are distinct: every synthetic patent has its own title, and its problem, solution,
  effect and substance are drawn again until unused;
- 109 IPC3 labels (the most frequent CPC classes of the sample, weighted half by their frequency, half uniformly,
  so that every class has examples at small scales); sentences come from the patent's own class where it has
  enough of them, so classes and clusters are topical;
- clusters of 200-1000 (clusters_ext_full_ipc) and 100-1000 members (clusters_inventor), sizes heavy-tailed
  towards the lower bound; the cluster size does not scale, the number of clusters does;
- symmetric retrieval as (q, pos, neg) triplets with 1-3 positives per query (positives in the same IPC3 for
  IN, the same section but another class for MIXED, another section for OUT); paraphrase pairs with 14 %
  positives that share a sentence;
- all tasks draw their patents from one pool of 120,000 x scale synthetic families, as PatenTEB's tasks draw on
  one test split, so a patent's text can recur across tasks (the real overlap is not published).

Labels follow the descriptions in the catalogue; the cards' exact label encodings are not in this repository, so
they follow the test fixtures (strings for bloom timing, IPC3 codes and cluster ids; 0/1 for pair labels).
The same --scale and --seed always give the same files. Beside the task folders: README.txt (what this is) and
workload.json (rows per split and distinct texts per task and overall, for the scale bench).

    python bench/patenteb_workload.py --out DIR [--scale 0.25] [--seed 0]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ABSTRACTS = REPO / "explorer" / "data" / "uspto_random_10000.parquet"
OLD_TASK_TABLE = REPO / "results" / "seeds" / "reference" / "patenteb_tasks.csv"
SENTENCE_END = re.compile(r"(?<=[.;])\s+(?=[A-Z(])")
SHORTEST_SENTENCE_WORDS = 5
IPC3_CLASSES = 109
FAMILY_POOL = 120_000
OWN_CLASS_SENTENCES = 50
"""A class with fewer sentences than this borrows its sentences from its whole section."""
FIRST_FAMILY_ID = 10_000_000
CLUSTER_SIZES = {"clusters_ext_full_ipc": (200, 1000), "clusters_inventor": (100, 1000)}
CLUSTER_SIZE_TAIL = 1.2
"""Pareto exponent of the cluster sizes between their bounds: most clusters near the lower bound."""
POSITIVES_PER_QUERY = ((1, 0.55), (2, 0.30), (3, 0.15))
PARAPHRASE_POSITIVE_SHARE = 0.14
BLOOM_LABELS = (("early", 0.10), ("late", 0.04), ("normal", 0.86))
SMALLEST_SPLIT = 10
WORD_COUNT_SAMPLE = 5_000
TEXT_COLUMNS = {
    "retrieval_IN": ("q_text", "pos_text", "neg_text"),
    "retrieval_MIXED": ("q_text", "pos_text", "neg_text"),
    "retrieval_OUT": ("q_text", "pos_text", "neg_text"),
    "title2full": ("title", "full_text"),
    "problem2full": ("problem", "full_text"),
    "problem2solution": ("problem", "solution"),
    "effect2full": ("effect", "full_text"),
    "effect2substance": ("effect", "substance"),
    "class_bloom": ("text",),
    "class_nli_oldnew": ("q_text", "t_text"),
    "class_text2ipc3": ("text",),
    "clusters_ext_full_ipc": ("text",),
    "clusters_inventor": ("text",),
    "para_problem": ("text1", "text2"),
    "para_solution": ("text1", "text2"),
}
"""The columns whose texts the evaluator embeds, per task."""

README = """SYNTHETIC PatenTEB-SHAPED WORKLOAD - FOR CAPACITY MEASUREMENTS ONLY

Written by bench/patenteb_workload.py (scale {scale}, seed {seed}). The 15 task folders have the columns, layout
and sizes of the PatenTEB dataset cards, but every text is a random recombination of real USPTO abstract
sentences and every label, cluster, citation and relevance judgement is invented.

Scores computed on this data are NEVER PatenTEB scores: do not store, publish or compare them as such.
Evaluate into a throw-away store (python -m evaluator run --store /tmp/... --data-dir THIS_FOLDER).

workload.json lists the rows per split and the distinct texts per task and overall.
"""


@dataclass(frozen=True)
class TaskFacts:
    columns: tuple[str, ...]
    """The dataset card's columns, in the card's order."""
    full_sizes: dict[str, int]
    """Rows per split at scale 1.0: the card's test size and, for classification, the shipped train subset."""


def task_facts() -> dict[str, TaskFacts]:
    """The 15 PatenTEB tasks' card columns and sizes, from the task catalogue (patenteb/catalogue.py, or before
    that refactor evaluator/tasks/catalogue.py with results/seeds/reference/patenteb_tasks.csv)."""
    try:
        from patenteb.catalogue import PATENTEB, TASKS
    except ImportError:
        return _facts_before_catalogue()
    return {
        task.name: TaskFacts(tuple(task.columns), _sizes(task.test_size, task.train_subset))
        for task in TASKS
        if task.benchmark == PATENTEB
    }


def _facts_before_catalogue() -> dict[str, TaskFacts]:
    from evaluator.tasks.catalogue import HF_COLUMNS

    table = pd.read_csv(OLD_TASK_TABLE, dtype=str, keep_default_na=False).set_index("task_id")
    return {
        task: TaskFacts(tuple(columns), _sizes(table.at[task, "test_examples"], table.at[task, "eval_train_subset"]))
        for task, columns in HF_COLUMNS.items()
    }


def _sizes(test_size, train_subset: str | None) -> dict[str, int]:
    sizes = {"test": int(test_size)}
    leading_number = re.match(r"\s*(\d+)", train_subset or "")
    if leading_number:
        sizes["train"] = int(leading_number.group(1))
    return sizes


def scaled(rows: int, scale: float) -> int:
    return max(SMALLEST_SPLIT, round(rows * scale))


def task_seed(seed: int, name: str) -> int:
    return int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()[:12], 16)


class SentenceBank:
    """The abstracts' sentences, by CPC class and section, and the 109 classes standing in for IPC3 domains."""

    def __init__(self):
        abstracts = pd.read_parquet(ABSTRACTS, columns=["text", "first_section", "first_class", "codes"])
        abstracts = abstracts.dropna(subset=["text"]).drop_duplicates("text")
        abstracts["sentences"] = abstracts["text"].map(split_sentences)
        labelled = abstracts.dropna(subset=["first_class"])
        frequency = labelled["first_class"].value_counts()
        self.classes: list[str] = sorted(frequency.index[:IPC3_CLASSES])
        counts = frequency[self.classes].to_numpy(dtype=float)
        self.class_weights = 0.5 * counts / counts.sum() + 0.5 / len(self.classes)
        self.section_of = {c: labelled.loc[labelled["first_class"] == c, "first_section"].iloc[0] for c in self.classes}
        by_class = labelled.groupby("first_class")["sentences"].agg(lambda column: [s for part in column for s in part])
        by_section = labelled.groupby("first_section")["sentences"].agg(lambda column: [s for part in column for s in part])
        self.sentences: dict[str, list[str]] = {}
        for label in self.classes:
            own = by_class.get(label, [])
            self.sentences[label] = own if len(own) >= OWN_CLASS_SENTENCES else by_section[self.section_of[label]]
        self.code_sets: dict[str, list[list[str]]] = {
            label: [list(codes) for codes in labelled.loc[labelled["first_class"] == label, "codes"] if len(codes)]
            for label in self.classes
        }


@functools.lru_cache(maxsize=None)
def words_of(sentence: str) -> list[str]:
    return sentence.split()


def split_sentences(text: str) -> list[str]:
    return [part.strip() for part in SENTENCE_END.split(text) if len(part.split()) >= SHORTEST_SENTENCE_WORDS]


@dataclass
class Family:
    """One synthetic patent family: its IPC3 domain and text fragments; longer texts are assembled on demand."""

    id: int
    ipc3: str
    title: str
    problem: str
    solution: str
    effect: str
    substance: str
    claims: str

    @property
    def text(self) -> str:
        """Title and abstract: the patent text of the symmetric, classification and clustering tasks."""
        return f"{self.title}. {self.problem} {self.solution} {self.effect}"

    def full_text(self, without: str | None = None) -> str:
        parts = {
            "title": f"{self.title}.",
            "problem": self.problem,
            "solution": self.solution,
            "effect": self.effect,
            "substance": self.substance,
            "claims": self.claims,
        }
        if without:
            del parts[without]
        return " ".join(parts.values())


class FamilyPool:
    """`size` synthetic families, every title, problem, solution, effect and substance used once in the pool."""

    def __init__(self, bank: SentenceBank, size: int, seed: int):
        self.bank = bank
        self.random = random.Random(task_seed(seed, "families"))
        self._uniform = self.random.random
        self.used: dict[str, set[str]] = {field: set() for field in ("title", "problem", "solution", "effect", "substance")}
        labels = np.random.default_rng(task_seed(seed, "labels")).choice(
            len(bank.classes), size=size, p=bank.class_weights
        )
        self.families = [self._family(index, bank.classes[label]) for index, label in enumerate(labels)]
        self.ipc3 = np.array([family.ipc3 for family in self.families])
        self.section = np.array([bank.section_of[family.ipc3] for family in self.families])
        self.by_class = {label: np.flatnonzero(self.ipc3 == label) for label in bank.classes}
        self.by_section = {section: np.flatnonzero(self.section == section) for section in set(self.section)}

    def __len__(self) -> int:
        return len(self.families)

    def _family(self, index: int, ipc3: str) -> Family:
        sentences = self.bank.sentences[ipc3]
        return Family(
            id=FIRST_FAMILY_ID + index,
            ipc3=ipc3,
            title=self._distinct("title", lambda extra: self._title(sentences, extra)),
            problem=self._distinct("problem", lambda spliced: self._fragment(sentences, spliced)),
            solution=self._distinct("solution", lambda extra: self._sentences(sentences, self._count(1, 3) + extra)),
            effect=self._distinct("effect", lambda spliced: self._fragment(sentences, spliced)),
            substance=self._distinct("substance", lambda spliced: self._fragment(sentences, spliced)),
            claims=self._sentences(sentences, self._count(3, 8)),
        )

    def _count(self, low: int, high: int) -> int:
        return low + int(self.random.random() * (high - low + 1))

    def _pick(self, items: list[str]) -> str:
        return items[int(self._uniform() * len(items))]

    def _sentences(self, sentences: list[str], count: int) -> str:
        return " ".join(self._pick(sentences) for _ in range(count))

    def _fragment(self, sentences: list[str], spliced: int) -> str:
        """One sentence; once sentences start repeating, the head of one sentence joined to the tail of another."""
        if not spliced:
            return self._pick(sentences)
        head, tail = words_of(self._pick(sentences)), words_of(self._pick(sentences))
        cut_head = 3 + int(self.random.random() * max(1, len(head) - 3))
        cut_tail = int(self.random.random() * max(1, len(tail) - 3))
        return " ".join(head[:cut_head] + tail[cut_tail:])

    def _title(self, sentences: list[str], extra: int) -> str:
        words = words_of(self._pick(sentences).rstrip(".;"))
        if extra:
            words = words + words_of(self._pick(sentences).rstrip(".;"))
        length = min(len(words), self._count(5, 14) + extra)
        start = int(self.random.random() * (len(words) - length + 1))
        title = " ".join(words[start : start + length]).strip(" ,;:")
        return title[:1].upper() + title[1:]

    def _distinct(self, field: str, make) -> str:
        """A value of `field` no other family has; after every three collisions `make` is asked for more variety."""
        used = self.used[field]
        attempt = 0
        while True:
            value = make(attempt // 3)
            if value not in used:
                used.add(value)
                return value
            attempt += 1

    def other_in_class(self, rng: np.random.Generator, index: int) -> int:
        members = self.by_class[self.ipc3[index]]
        for _ in range(20):
            other = int(members[rng.integers(len(members))])
            if other != index:
                return other
        return self.other_in_section(rng, index)

    def other_in_section(self, rng: np.random.Generator, index: int) -> int:
        members = self.by_section[self.section[index]]
        for _ in range(20):
            other = int(members[rng.integers(len(members))])
            if self.ipc3[other] != self.ipc3[index]:
                return other
        return self.outside_section(rng, index)

    def outside_section(self, rng: np.random.Generator, index: int) -> int:
        for _ in range(100):
            other = int(rng.integers(len(self.families)))
            if self.section[other] != self.section[index]:
                return other
        return (index + 1) % len(self.families)


def with_class_counts(rows: pd.DataFrame) -> pd.DataFrame:
    rows["first_ipcr3_count"] = rows.groupby("first_ipcr3")["first_ipcr3"].transform("size").astype("int64")
    return rows


def symmetric_retrieval(pool: FamilyPool, objective: str, rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(task_seed(seed, f"retrieval_{objective}"))
    choose_positive = {"IN": pool.other_in_class, "MIXED": pool.other_in_section, "OUT": pool.outside_section}[objective]
    choose_negative = pool.other_in_section if objective != "OUT" else pool.outside_section
    negative_domain = {"IN": "FULL_MIX", "MIXED": "PART_MIX", "OUT": "OUT"}[objective]
    counts, weights = zip(*POSITIVES_PER_QUERY)
    triplets = []
    for query in rng.permutation(len(pool)):
        positives: set[int] = set()
        for _ in range(int(rng.choice(counts, p=weights))):
            positives.add(choose_positive(rng, int(query)))
        for positive in positives:
            triplets.append((int(query), positive, choose_negative(rng, int(query))))
        if len(triplets) >= rows:
            break
    families = pool.families
    return pd.DataFrame(
        {
            "q": [families[q].id for q, _, _ in triplets[:rows]],
            "neg": [families[n].id for _, _, n in triplets[:rows]],
            "pos": [families[p].id for _, p, _ in triplets[:rows]],
            "pos_link_type": rng.choice(["CITES", "CITED_BY"], size=min(rows, len(triplets))),
            "neg_computed_domain": negative_domain,
            "objective": objective,
            "q_text": [families[q].text for q, _, _ in triplets[:rows]],
            "pos_text": [families[p].text for _, p, _ in triplets[:rows]],
            "neg_text": [families[n].text for _, _, n in triplets[:rows]],
        }
    )


ASYMMETRIC = {
    "title2full": ("title", "full_text", "title"),
    "problem2full": ("problem", "full_text", "problem"),
    "problem2solution": ("problem", "solution", None),
    "effect2full": ("effect", "full_text", "effect"),
    "effect2substance": ("effect", "substance", None),
}
"""task -> (query column, target column, fragment removed from the full text)."""


def asymmetric_retrieval(pool: FamilyPool, task: str, rows: int, seed: int) -> pd.DataFrame:
    query_column, target_column, removed = ASYMMETRIC[task]
    chosen = [pool.families[i] for i in sample(pool, rows, task_seed(seed, task))]
    frame = pd.DataFrame({"first_ipcr3": [family.ipc3 for family in chosen], "q": [family.id for family in chosen]})
    frame[query_column] = [getattr(family, query_column) for family in chosen]
    if target_column == "full_text":
        frame[target_column] = [family.full_text(without=removed) for family in chosen]
    else:
        frame[target_column] = [getattr(family, target_column) for family in chosen]
    return with_class_counts(frame) if "first_ipcr3" in frame else frame


def sample(pool: FamilyPool, rows: int, seed: int) -> np.ndarray:
    """`rows` distinct families (all of them, repeated, only if the pool is smaller)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))
    return np.resize(order, rows) if rows > len(pool) else order[:rows]


def classification(pool: FamilyPool, task: str, sizes: dict[str, int], seed: int) -> dict[str, pd.DataFrame]:
    """Train and test from disjoint families, as the cards' train subset and test split are."""
    rng = np.random.default_rng(task_seed(seed, task))
    pairs = task == "class_nli_oldnew"
    needed = (sizes["train"] + sizes["test"]) * (2 if pairs else 1)
    chosen = sample(pool, needed, task_seed(seed, task + ":families"))
    splits, start = {}, 0
    for split in ("train", "test"):
        count = sizes[split]
        if pairs:
            first, second = chosen[start : start + count], chosen[start + count : start + 2 * count]
            splits[split] = citation_direction_pairs(pool, first, second, rng)
            start += 2 * count
        else:
            splits[split] = single_text_classification(pool, task, chosen[start : start + count], rng)
            start += count
    return splits


def single_text_classification(pool: FamilyPool, task: str, chosen: np.ndarray, rng) -> pd.DataFrame:
    families = [pool.families[i] for i in chosen]
    if task == "class_bloom":
        labels, weights = zip(*BLOOM_LABELS)
        return pd.DataFrame(
            {
                "q": [family.id for family in families],
                "text": [family.text for family in families],
                "label": rng.choice(labels, size=len(families), p=weights),
            }
        )
    frame = pd.DataFrame(
        {
            "first_ipcr3": [family.ipc3 for family in families],
            "label": [family.ipc3 for family in families],
            "q": [family.id for family in families],
            "text": [family.text for family in families],
        }
    )
    return with_class_counts(frame)


def citation_direction_pairs(pool: FamilyPool, first: np.ndarray, second: np.ndarray, rng) -> pd.DataFrame:
    citing = [pool.families[i] for i in first]
    cited = [pool.families[i] for i in second]
    frame = pd.DataFrame(
        {
            "first_ipcr3": [family.ipc3 for family in citing],
            "label": rng.integers(0, 2, size=len(citing)),
            "q": [family.id for family in citing],
            "t": [family.id for family in cited],
            "q_text": [family.text for family in citing],
            "t_text": [family.text for family in cited],
        }
    )
    return with_class_counts(frame)


def cluster_sizes(rows: int, smallest: int, largest: int, rng: np.random.Generator) -> list[int]:
    """Heavy-tailed sizes in [smallest, largest] adding up to `rows` (at least two clusters)."""
    if rows < 2 * smallest:
        return [rows // 2, rows - rows // 2]
    sizes: list[int] = []
    ratio = 1 - (smallest / largest) ** CLUSTER_SIZE_TAIL
    while sum(sizes) < rows:
        sizes.append(int(smallest / (1 - rng.random() * ratio) ** (1 / CLUSTER_SIZE_TAIL)))
    remainder = rows - sum(sizes[:-1])
    if remainder >= smallest or len(sizes) == 1:
        sizes[-1] = remainder
        return sizes
    sizes.pop()
    for position in range(remainder):
        sizes[position % len(sizes)] += 1
    return sizes


def clustering(pool: FamilyPool, bank: SentenceBank, task: str, rows: int, seed: int) -> pd.DataFrame:
    """Each cluster draws its members from one IPC3 class first (same inventor, same field), then from others."""
    rng = np.random.default_rng(task_seed(seed, task))
    smallest, largest = CLUSTER_SIZES[task]
    chosen = sample(pool, rows, task_seed(seed, task + ":families"))
    waiting = {label: list(chosen[pool.ipc3[chosen] == label]) for label in bank.classes}
    texts, labels, ids = [], [], []
    used_labels: set[str] = set()
    for number, size in enumerate(cluster_sizes(rows, smallest, largest, rng)):
        remaining = np.array([len(waiting[label]) for label in bank.classes], dtype=float)
        home = bank.classes[int(rng.choice(len(bank.classes), p=remaining / remaining.sum()))]
        label = cluster_label(bank, task, home, number, used_labels, rng)
        members = take(waiting, home, size)
        for index in members:
            family = pool.families[index]
            texts.append(family.text)
            ids.append(family.id)
            labels.append(label)
    return pd.DataFrame({"q": ids, "text": texts, "cluster_id": labels})


def take(waiting: dict[str, list[int]], home: str, size: int) -> list[int]:
    members: list[int] = []
    for label in [home, *(other for other in waiting if other != home)]:
        while waiting[label] and len(members) < size:
            members.append(int(waiting[label].pop()))
        if len(members) == size:
            break
    return members


def cluster_label(bank: SentenceBank, task: str, home: str, number: int, used: set[str], rng) -> str:
    if task == "clusters_inventor":
        return f"inventor-{number:06d}"
    code_sets = bank.code_sets[home] or [[f"{home}A1/00"]]
    codes = list(code_sets[int(rng.integers(len(code_sets)))])
    label = ";".join(sorted(codes))
    while label in used:
        codes.append(f"{home}{chr(65 + int(rng.integers(26)))}{int(rng.integers(1, 99))}/{int(rng.integers(0, 99)):02d}")
        label = ";".join(sorted(set(codes)))
    used.add(label)
    return label


def paraphrase(pool: FamilyPool, task: str, rows: int, seed: int) -> pd.DataFrame:
    """Positives: same-class pairs whose second text shares a sentence with the first; negatives: cross-section."""
    rng = np.random.default_rng(task_seed(seed, task))
    field = "problem" if task == "para_problem" else "solution"
    firsts = sample(pool, rows, task_seed(seed, task + ":families"))
    positive = rng.random(rows) < PARAPHRASE_POSITIVE_SHARE
    records = []
    for index, is_positive in zip(firsts, positive):
        index = int(index)
        partner = pool.other_in_class(rng, index) if is_positive else pool.outside_section(rng, index)
        first, second = pool.families[index], pool.families[partner]
        text1, text2 = getattr(first, field), getattr(second, field)
        if is_positive:
            text2 = f"{split_sentences(text1)[0] if split_sentences(text1) else text1} {text2}"
        records.append((first.ipc3, int(is_positive), first.id, second.id, text1, text2))
    frame = pd.DataFrame(records, columns=["first_ipcr3", "label", "q", "t", "text1", "text2"])
    return with_class_counts(frame)


def build_workload(scale: float, seed: int = 0) -> dict[str, dict[str, pd.DataFrame]]:
    """{task: {split: rows}} for the 15 tasks, in the cards' columns."""
    facts = task_facts()
    sizes = {task: {split: scaled(rows, scale) for split, rows in fact.full_sizes.items()} for task, fact in facts.items()}
    bank = SentenceBank()
    largest_task = max(sum(splits.values()) * (2 if task == "class_nli_oldnew" else 1) for task, splits in sizes.items())
    pool = FamilyPool(bank, max(math.ceil(FAMILY_POOL * scale), largest_task), seed)
    frames: dict[str, dict[str, pd.DataFrame]] = {}
    for objective in ("IN", "MIXED", "OUT"):
        task = f"retrieval_{objective}"
        frames[task] = {"test": symmetric_retrieval(pool, objective, sizes[task]["test"], seed)}
    for task in ASYMMETRIC:
        frames[task] = {"test": asymmetric_retrieval(pool, task, sizes[task]["test"], seed)}
    for task in ("class_bloom", "class_nli_oldnew", "class_text2ipc3"):
        frames[task] = classification(pool, task, sizes[task], seed)
    for task in CLUSTER_SIZES:
        frames[task] = {"test": clustering(pool, bank, task, sizes[task]["test"], seed)}
    for task in ("para_problem", "para_solution"):
        frames[task] = {"test": paraphrase(pool, task, sizes[task]["test"], seed)}
    return {task: {split: frame[list(facts[task].columns)] for split, frame in frames[task].items()} for task in facts}


def describe(frames: dict[str, dict[str, pd.DataFrame]]) -> dict:
    """Rows per split and distinct embedded texts per task and over the whole workload; mean words per column
    (over its first 5,000 rows)."""
    everything: set[str] = set()
    tasks = {}
    for task, splits in frames.items():
        texts: set[str] = set()
        words = {}
        for column in TEXT_COLUMNS[task]:
            values = pd.concat([frame[column] for frame in splits.values()])
            texts.update(values.dropna())
            words[column] = round(float(values.head(WORD_COUNT_SAMPLE).str.split().str.len().mean()), 1)
        everything |= texts
        tasks[task] = {
            "rows": {split: len(frame) for split, frame in splits.items()},
            "distinct_texts": len(texts),
            "mean_words": words,
        }
        for label_column in ("label", "cluster_id"):
            if label_column in next(iter(splits.values())):
                tasks[task][f"distinct_{label_column}s"] = int(pd.concat([f[label_column] for f in splits.values()]).nunique())
    return {
        "test_rows": sum(task["rows"]["test"] for task in tasks.values()),
        "train_rows": sum(task["rows"].get("train", 0) for task in tasks.values()),
        "distinct_texts": len(everything),
        "distinct_texts_per_task_sum": sum(task["distinct_texts"] for task in tasks.values()),
        "tasks": tasks,
    }


def write_workload(out: Path, scale: float, seed: int = 0) -> dict:
    """Write the 15 task folders, README.txt and workload.json under `out`; return workload.json's content."""
    started = time.perf_counter()
    frames = build_workload(scale, seed)
    built = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for task, splits in frames.items():
        for split, frame in splits.items():
            path = out / task / split / "data.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(path, index=False)
    written = time.perf_counter()
    summary = {"synthetic": True, "never_patenteb_scores": True, "scale": scale, "seed": seed, **describe(frames)}
    summary["build_s"] = round(built - started, 2)
    summary["write_s"] = round(written - built, 2)
    (out / "README.txt").write_text(README.format(scale=scale, seed=seed), encoding="utf-8")
    (out / "workload.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write <task>/<split>/data.parquet into")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = the cards' full sizes (default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 4:
        parser.error("--scale must be in (0, 4]")
    started = time.perf_counter()
    summary = write_workload(args.out, args.scale, args.seed)
    brief = {key: summary[key] for key in ("scale", "test_rows", "train_rows", "distinct_texts", "build_s", "write_s")}
    print(json.dumps({"out": str(args.out), **brief, "total_s": round(time.perf_counter() - started, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
