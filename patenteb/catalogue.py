"""Every task this leaderboard knows, written once: the one home of each task's facts.

The store's `tasks` table, the evaluator's task groups and mteb metadata, and the leaderboard's constants are
all derived from `TASKS`. Plain data: importing this module loads neither mteb nor duckdb.

Sources: the PatenTEB tasks from the authors' dataset cards `datalyes/<task>` and the GitHub README
`iliass-y/patenteb`; the external tasks from mteb 2.26's task metadata; the demo tasks are built here from the
shipped USPTO sample (see `evaluator/tasks/demo.py`). Each task's `source` names where its facts come from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from patenteb.shipped import USPTO_SAMPLE_LABEL, USPTO_SAMPLE_RELATIVE

PATENTEB = "PatenTEB"
EXTERNAL = "external"
AGGREGATE = "aggregate"
DEMO = "demo"

DISPLAY_BAND = {PATENTEB: 0, EXTERNAL: 100, AGGREGATE: 200, DEMO: 300}
"""Where each benchmark's tasks start in the display order; within a benchmark, the order of `TASKS`."""

FAMILIES = ("retrieval", "classification", "clustering", "paraphrase")
"""PatenTEB's task families; external tasks have the family 'external', the aggregate 'aggregate'."""

MTEB_TYPE_OF_FAMILY = {
    "retrieval": "Retrieval",
    "classification": "Classification",
    "clustering": "Clustering",
    "paraphrase": "STS",
}

PATENTEB_HUB_ORGANISATION = "datalyes"
"""The PatenTEB datasets are `datalyes/<task>` on the Hugging Face Hub (gated, CC BY-NC-SA 4.0)."""

REPORTED_OVERALL_TASK = "PatenTEB-overall-reported"


@dataclass(frozen=True)
class Metric:
    key: str
    """As mteb writes it in result files."""
    label: str
    """As the papers and dataset cards write it."""


NDCG_AT_10 = Metric("ndcg_at_10", "NDCG@10")
NDCG_AT_100 = Metric("ndcg_at_100", "NDCG@100")
MACRO_F1 = Metric("f1", "Macro-F1")
V_MEASURE = Metric("v_measure", "V-measure")
PEARSON = Metric("cosine_pearson", "Pearson r")
ACCURACY = Metric("accuracy", "Accuracy")
OVERALL = Metric("overall", "PatenTEB overall score")
METRICS = (NDCG_AT_10, NDCG_AT_100, MACRO_F1, V_MEASURE, PEARSON, ACCURACY, OVERALL)

MAIN_METRIC_OF_FAMILY = {"retrieval": NDCG_AT_10, "classification": MACRO_F1, "clustering": V_MEASURE, "paraphrase": PEARSON}


@dataclass(frozen=True)
class Task:
    name: str
    benchmark: str
    family: str
    metric: Metric
    description: str
    source: str
    mteb_type: str | None = None
    """mteb's task type ('Retrieval', 'STS', ...); None for the reported aggregate, which mteb never runs."""
    mteb_subtypes: tuple[str, ...] = ()
    """mteb's task sub-types (its `TaskSubtype` values) that fit the task; none where none fits."""
    label: str | None = None
    """The short column header; the task name when not given."""
    metric_label: str | None = None
    """The metric's label for this task; the metric's own label when not given."""
    subfamily: str | None = None
    eval_split: str = "test"
    test_size: int | None = None
    train_subset: str | None = None
    dataset: str | None = None
    columns: tuple[str, ...] = ()
    """The columns the dataset card lists, in the card's order (what a local data file must have)."""
    paired_fields: tuple[str, str] | None = None
    """(query column, target column) of an asymmetric retrieval task."""
    query_prompt: str | None = None
    document_prompt: str | None = None
    prompt_source: str | None = None
    evaluated_here: bool = True
    """False for tasks whose scores are only imported or reported: the worker does not offer to run them."""
    display_order: int = 0

    def __post_init__(self):
        if self.label is None:
            object.__setattr__(self, "label", self.name)
        if self.metric_label is None:
            object.__setattr__(self, "metric_label", self.metric.label)


THIRD_PARTY_PROMPTS = (
    "third-party code (pateval registry.py, GitHub) attributing prompts to the models' "
    "config_sentence_transformers.json / paper Table 11; not read from the paper itself"
)
PATENT_RETRIEVAL = ("Patent retrieval",)
TRIPLET_COLUMNS = ("q", "neg", "pos", "pos_link_type", "neg_computed_domain", "objective", "q_text", "pos_text", "neg_text")


def _patenteb(name: str, family: str, description: str, test_size: int, columns: tuple[str, ...], **facts) -> Task:
    return Task(
        name=name,
        benchmark=PATENTEB,
        family=family,
        metric=MAIN_METRIC_OF_FAMILY[family],
        mteb_type=MTEB_TYPE_OF_FAMILY[family],
        description=description,
        test_size=test_size,
        dataset=f"{PATENTEB_HUB_ORGANISATION}/{name}",
        columns=columns,
        prompt_source=facts.pop("prompt_source", "not found"),
        source=f"https://huggingface.co/datasets/{PATENTEB_HUB_ORGANISATION}/{name} card; github.com/iliass-y/patenteb README",
        **facts,
    )


def _symmetric_retrieval(name: str, description: str, test_size: int, scope: str) -> Task:
    return _patenteb(
        name, "retrieval", description, test_size, TRIPLET_COLUMNS,
        subfamily="symmetric",
        mteb_subtypes=PATENT_RETRIEVAL,
        query_prompt=f"encode query for {scope} document retrieval:",
        document_prompt=f"encode document for {scope} retrieval:",
        prompt_source=THIRD_PARTY_PROMPTS,
    )


def _asymmetric_retrieval(name: str, description: str, test_size: int, columns: tuple[str, ...], query: str, target: str) -> Task:
    return _patenteb(
        name, "retrieval", description, test_size, columns,
        subfamily="asymmetric", mteb_subtypes=PATENT_RETRIEVAL, paired_fields=(query, target),
    )


def _external(name: str, mteb_type: str, metric: Metric, label: str, description: str, eval_split: str,
              test_size: int, dataset: str, reference: str, evaluated_here: bool = True) -> Task:
    return Task(
        name=name, benchmark=EXTERNAL, family=EXTERNAL, mteb_type=mteb_type, metric=metric, label=label,
        description=description, eval_split=eval_split, test_size=test_size, dataset=dataset,
        source=f"mteb 2.26 task metadata; {reference}", evaluated_here=evaluated_here,
    )


def _demo(name: str, family: str, label: str, description: str, test_size: int, **facts) -> Task:
    return Task(
        name=name,
        benchmark=DEMO,
        family=family,
        metric=MAIN_METRIC_OF_FAMILY[family],
        mteb_type=MTEB_TYPE_OF_FAMILY[family],
        label=label,
        description=description,
        test_size=test_size,
        dataset=USPTO_SAMPLE_RELATIVE,
        source=f"built deterministically by evaluator/tasks/demo.py from {USPTO_SAMPLE_LABEL}",
        **facts,
    )


PATENTEB_DESCRIPTION = (
    "PatenTEB: 15 patent text-embedding tasks (8 retrieval, 3 classification, 2 clustering, 2 paraphrase) "
    "from Lens.org patent families."
)
DAPFAM_REFERENCE = "https://arxiv.org/abs/2506.22141"
BIG_PATENT_REFERENCE = "https://huggingface.co/datasets/NortheasternUniversity/big_patent"

_TASKS_IN_ORDER: tuple[Task, ...] = (
    _symmetric_retrieval(
        "retrieval_IN",
        "Patent-to-patent prior-art style retrieval where query and relevant (citation-linked) patent share the same "
        "IPC3 domain; hard negatives are mined from another domain-overlap category (rows carry "
        "neg_computed_domain=FULL_MIX).",
        15809, "same",
    ),
    _symmetric_retrieval(
        "retrieval_MIXED",
        "Citation-linked patent retrieval where query and target IPC3 sets partially overlap; hard negatives from the "
        "PART_MIX category.",
        15574, "mixed",
    ),
    _symmetric_retrieval(
        "retrieval_OUT",
        "Citation-linked patent retrieval across disjoint IPC3 domains (cross-domain prior art); hard negatives from "
        "the OUT category. Card says scores are typically 3-6x lower than IN.",
        15462, "different",
    ),
    _asymmetric_retrieval(
        "title2full",
        "Fragment-to-document: a patent title is the query, the target is the patent's full text with the title "
        "fragment removed to block lexical matching.",
        18727, ("first_ipcr3", "q", "title", "full_text", "first_ipcr3_count"), "title", "full_text",
    ),
    _asymmetric_retrieval(
        "problem2full",
        "Fragment-to-document: a technical-problem statement is the query, the target is the full patent text with "
        "that fragment removed.",
        18729, ("first_ipcr3", "q", "problem", "full_text", "first_ipcr3_count"), "problem", "full_text",
    ),
    _asymmetric_retrieval(
        "problem2solution",
        "Role-complementary retrieval: match a problem description to the solution description of the same patent.",
        18729, ("first_ipcr3", "q", "problem", "solution", "first_ipcr3_count"), "problem", "solution",
    ),
    _asymmetric_retrieval(
        "effect2full",
        "Fragment-to-document: a technical-effect statement is the query, target is the full patent text with the "
        "fragment deterministically removed.",
        2043, ("q", "effect", "full_text"), "effect", "full_text",
    ),
    _asymmetric_retrieval(
        "effect2substance",
        "Role-complementary retrieval: link a described effect to the substance/material text that produces it.",
        2037, ("q", "effect", "substance"), "effect", "substance",
    ),
    _patenteb(
        "class_bloom", "classification",
        "3-way citation-timing class: early (top decile of 5-year forward citations within its IPC3), late (top "
        "decile lifetime but bottom decile 5-year), normal (rest).",
        7347, ("q", "text", "label"),
        train_subset="11636 (20% train subset used at eval time)",
    ),
    _patenteb(
        "class_nli_oldnew", "classification",
        "Binary label on a citing/cited patent pair: which direction the citation goes (newer vs older).",
        14690, ("first_ipcr3", "label", "q", "t", "q_text", "t_text", "first_ipcr3_count"),
        train_subset="23215 (20% train subset)",
    ),
    _patenteb(
        "class_text2ipc3", "classification",
        "Assign a patent family to one of 109 IPC3 technology classes.",
        18727, ("first_ipcr3", "label", "q", "text", "first_ipcr3_count"),
        train_subset="30000 (20% train subset)",
        mteb_subtypes=("Topic classification",),
    ),
    _patenteb(
        "clusters_ext_full_ipc", "clustering",
        "Cluster patent families whose label is their complete IPC code set; only clusters of 200-1000 members kept.",
        47230, ("q", "text", "cluster_id"),
        mteb_subtypes=("Thematic clustering",),
    ),
    _patenteb(
        "clusters_inventor", "clustering",
        "Cluster patent families by inventor identity; clusters of 100-1000 members kept.",
        86834, ("q", "text", "cluster_id"),
    ),
    _patenteb(
        "para_problem", "paraphrase",
        "Pairs of problem statements; positives are same-domain citation pairs sharing problem segments, negatives "
        "are cross-domain pairs; positives are 14% of pairs.",
        18726, ("first_ipcr3", "label", "q", "t", "text1", "text2", "first_ipcr3_count"),
    ),
    _patenteb(
        "para_solution", "paraphrase",
        "Same construction as para_problem but over solution descriptions.",
        18656, ("first_ipcr3", "label", "q", "t", "text1", "text2", "first_ipcr3_count"),
    ),
    _external(
        "BigPatentClustering.v2", "Clustering", V_MEASURE, "BigPatent v2",
        "Clustering of documents from the Big Patent dataset (9 CPC-derived categories, single-category documents "
        "only). The external clustering benchmark the PatenTEB paper reports.",
        "test", 2048, "mteb/big-patent", BIG_PATENT_REFERENCE,
    ),
    _external(
        "BigPatentClustering", "Clustering", V_MEASURE, "BigPatent v1",
        "Superseded v1 of BigPatentClustering (67,064 documents); kept because older result files report it.",
        "test", 67064, "jinaai/big-patent-clustering", BIG_PATENT_REFERENCE, evaluated_here=False,
    ),
    _external(
        "PatentClassification", "Classification", ACCURACY, "PatentClassif.",
        "Classification of patents into CPC-section-derived categories from their abstracts (mteb).",
        "test", 2048, "mteb/PatentClassification", "https://aclanthology.org/P19-1212.pdf", evaluated_here=False,
    ),
    _external(
        "DAPFAMAllTitlAbsClmToTitlAbsClmRetrieval", "Retrieval", NDCG_AT_100, "DAPFAM All",
        "DAPFAM patent-family retrieval, title+abstract+claims on both sides, no IPC filter (All scope). Same "
        "authors, arXiv 2506.22141.",
        "train", 46583, "datalyes/DAPFAM_patent", DAPFAM_REFERENCE,
    ),
    _external(
        "DAPFAMInTitlAbsClmToTitlAbsClmRetrieval", "Retrieval", NDCG_AT_100, "DAPFAM In",
        "DAPFAM, In scope: only targets sharing an IPC3 code with the query family.",
        "train", 46583, "datalyes/DAPFAM_patent", DAPFAM_REFERENCE,
    ),
    _external(
        "DAPFAMOutTitlAbsClmToTitlAbsClmRetrieval", "Retrieval", NDCG_AT_100, "DAPFAM Out",
        "DAPFAM, Out scope: only targets sharing no IPC3 code with the query family (cross-domain prior art).",
        "train", 46583, "datalyes/DAPFAM_patent", DAPFAM_REFERENCE,
    ),
    Task(
        name=REPORTED_OVERALL_TASK,
        benchmark=AGGREGATE,
        family=AGGREGATE,
        metric=OVERALL,
        metric_label="PatenTEB overall score (as reported)",
        label="Reported overall",
        description="The overall PatenTEB score over 15 tasks as the authors report it. Their aggregation rule (mean "
        "of tasks or mean of family means) is not stated, so it is shown as reported and never mixed with means "
        "computed here.",
        source="iliass-y/patenteb README",
        evaluated_here=False,
    ),
    _demo(
        "demo_uspto_retrieval", "retrieval", "Demo: USPTO first sentence → rest",
        "DEMO, not PatenTEB. The first sentence of a USPTO abstract is the query; the rest of that abstract is its "
        "one relevant document, in a corpus of the rests of 200 abstracts.",
        200, paired_fields=("first_sentence", "rest"),
    ),
    _demo(
        "demo_uspto_clustering", "clustering", "Demo: USPTO CPC-section clusters",
        "DEMO, not PatenTEB. Cluster 30 USPTO abstracts from each of 7 CPC sections by the section of their first "
        "classification code.",
        210,
    ),
    _demo(
        "demo_uspto_classification", "classification", "Demo: USPTO CPC-section classes",
        "DEMO, not PatenTEB. Predict the CPC section of a USPTO abstract (macro-F1) with a logistic regression fitted "
        "on 25 train abstracts per section; 15 test abstracts per section.",
        105,
    ),
)


def _numbered(tasks: tuple[Task, ...]) -> tuple[Task, ...]:
    position = dict.fromkeys(DISPLAY_BAND, 0)
    numbered = []
    for task in tasks:
        numbered.append(replace(task, display_order=DISPLAY_BAND[task.benchmark] + position[task.benchmark]))
        position[task.benchmark] += 1
    return tuple(numbered)


TASKS: tuple[Task, ...] = _numbered(_TASKS_IN_ORDER)
BY_NAME: dict[str, Task] = {task.name: task for task in TASKS}


def task(name: str) -> Task:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not in the task catalogue (patenteb/catalogue.py)") from None


def task_names(benchmark: str, *, evaluated_here: bool | None = None) -> tuple[str, ...]:
    """The names of a benchmark's tasks in display order; only those the worker runs when `evaluated_here`."""
    return tuple(
        t.name for t in TASKS
        if t.benchmark == benchmark and (evaluated_here is None or t.evaluated_here == evaluated_here)
    )


PATENTEB_TASKS = task_names(PATENTEB)
EXTERNAL_TASKS = task_names(EXTERNAL, evaluated_here=True)
"""External benchmarks the paper reports, run with mteb's own task definitions (they need the Hub)."""
DEMO_TASKS = task_names(DEMO)
GROUPS: dict[str, tuple[str, ...]] = {PATENTEB: PATENTEB_TASKS, DEMO: DEMO_TASKS, EXTERNAL: EXTERNAL_TASKS}
"""What a submission may name as a whole ('PatenTEB', 'demo', 'external')."""

SYMMETRIC_RETRIEVAL = tuple(t.name for t in TASKS if t.subfamily == "symmetric")
PAIRED_FIELDS: dict[str, tuple[str, str]] = {t.name: t.paired_fields for t in TASKS if t.paired_fields}
METRIC_KEYS = {metric.label: metric.key for metric in METRICS}
"""Metric labels of the papers and dataset cards -> the metric keys mteb writes in result files."""
