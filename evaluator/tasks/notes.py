"""Task names, dataset-card columns and plain-language notes. Plain data only: importing it loads no mteb."""

from __future__ import annotations

PATENTEB = "PatenTEB"
DEMO = "demo"
EXTERNAL = "external"

TRIPLET_COLUMNS = ("q", "neg", "pos", "pos_link_type", "neg_computed_domain", "objective", "q_text", "pos_text", "neg_text")

HF_COLUMNS: dict[str, tuple[str, ...]] = {
    "retrieval_IN": TRIPLET_COLUMNS,
    "retrieval_MIXED": TRIPLET_COLUMNS,
    "retrieval_OUT": TRIPLET_COLUMNS,
    "title2full": ("first_ipcr3", "q", "title", "full_text", "first_ipcr3_count"),
    "problem2full": ("first_ipcr3", "q", "problem", "full_text", "first_ipcr3_count"),
    "problem2solution": ("first_ipcr3", "q", "problem", "solution", "first_ipcr3_count"),
    "effect2full": ("q", "effect", "full_text"),
    "effect2substance": ("q", "effect", "substance"),
    "class_bloom": ("q", "text", "label"),
    "class_nli_oldnew": ("first_ipcr3", "label", "q", "t", "q_text", "t_text", "first_ipcr3_count"),
    "class_text2ipc3": ("first_ipcr3", "label", "q", "text", "first_ipcr3_count"),
    "clusters_ext_full_ipc": ("q", "text", "cluster_id"),
    "clusters_inventor": ("q", "text", "cluster_id"),
    "para_problem": ("first_ipcr3", "label", "q", "t", "text1", "text2", "first_ipcr3_count"),
    "para_solution": ("first_ipcr3", "label", "q", "t", "text1", "text2", "first_ipcr3_count"),
}
"""The columns each `datalyes/<task>` dataset card lists, in the card's order."""

PATENTEB_TASKS: tuple[str, ...] = tuple(HF_COLUMNS)

FAMILY: dict[str, str] = {
    **dict.fromkeys(
        ("retrieval_IN", "retrieval_MIXED", "retrieval_OUT", "title2full", "problem2full", "problem2solution",
         "effect2full", "effect2substance"),
        "retrieval",
    ),
    **dict.fromkeys(("class_bloom", "class_nli_oldnew", "class_text2ipc3"), "classification"),
    **dict.fromkeys(("clusters_ext_full_ipc", "clusters_inventor"), "clustering"),
    **dict.fromkeys(("para_problem", "para_solution"), "paraphrase"),
}

MAIN_METRIC = {"retrieval": "ndcg_at_10", "classification": "f1", "clustering": "v_measure", "paraphrase": "cosine_pearson"}
METRIC_LABEL = {"ndcg_at_10": "NDCG@10", "f1": "Macro-F1", "v_measure": "V-measure", "cosine_pearson": "Pearson r"}

EXTERNAL_TASKS: tuple[str, ...] = (
    "BigPatentClustering.v2",
    "DAPFAMAllTitlAbsClmToTitlAbsClmRetrieval",
    "DAPFAMInTitlAbsClmToTitlAbsClmRetrieval",
    "DAPFAMOutTitlAbsClmToTitlAbsClmRetrieval",
)
"""External benchmarks the paper reports, run with mteb's own task definitions (they need the Hub)."""

DEMO_FAMILY: dict[str, str] = {
    "demo_uspto_retrieval": "retrieval",
    "demo_uspto_clustering": "clustering",
    "demo_uspto_classification": "classification",
}
DEMO_TASKS: tuple[str, ...] = tuple(DEMO_FAMILY)

GROUPS: dict[str, tuple[str, ...]] = {PATENTEB: PATENTEB_TASKS, DEMO: DEMO_TASKS, EXTERNAL: EXTERNAL_TASKS}

SYMMETRIC_RETRIEVAL: tuple[str, ...] = ("retrieval_IN", "retrieval_MIXED", "retrieval_OUT")

ASYMMETRIC_FIELDS: dict[str, tuple[str, str]] = {
    "title2full": ("title", "full_text"),
    "problem2full": ("problem", "full_text"),
    "problem2solution": ("problem", "solution"),
    "effect2full": ("effect", "full_text"),
    "effect2substance": ("effect", "substance"),
    "demo_uspto_retrieval": ("first_sentence", "rest"),
}
"""(query column, target column) of each asymmetric retrieval task."""

SYMMETRIC_RETRIEVAL_NOTE = (
    "The dataset ships (query, positive, negative) triplets, not a corpus. We rebuild one: every distinct "
    "query text is a query; the corpus is every distinct positive and negative text of the split; a query's "
    "relevant documents are all the positives it was paired with. Identical texts are merged, so a text that "
    "is also a query is never counted as a hit for itself. Scored by NDCG@10 over the whole corpus."
)
ASYMMETRIC_RETRIEVAL_NOTE = (
    "Each row pairs a query fragment ({query}) with a target text ({target}) of the same patent. Every row "
    "is a query; the corpus is every distinct target text of the split; the one relevant document of a "
    "query is its own row's target. Scored by NDCG@10 over the whole corpus."
)


CLASSIFICATION_NOTE = (
    "A logistic regression (max 1,000 iterations) is fitted once on the embeddings of the whole shipped "
    "train subset and scored by macro-F1 on the test split."
)
PAIR_CLASSIFICATION_NOTE = CLASSIFICATION_NOTE + (
    " Each text of the (q_text, t_text) pair is embedded alone; the classifier sees the two embeddings side "
    "by side (the paper does not state its pair recipe)."
)
CLUSTERING_NOTE = (
    "Every document is embedded; k-means with k = the number of gold clusters runs on 10 resamples of the "
    "split (each up to 16,384 documents) and the V-measures are averaged."
)
PARAPHRASE_NOTE = (
    "Scored as STS: the cosine similarity of the two texts' embeddings against the 0/1 label, Pearson r."
)


def evaluation_note(task: str) -> str | None:
    """How `task` is evaluated here, in one paragraph for the task info page."""
    family = FAMILY.get(task) or DEMO_FAMILY.get(task)
    if family == "retrieval":
        return reconstruction_note(task)
    if task == "class_nli_oldnew":
        return PAIR_CLASSIFICATION_NOTE
    return {"classification": CLASSIFICATION_NOTE, "clustering": CLUSTERING_NOTE, "paraphrase": PARAPHRASE_NOTE}.get(
        family
    )


def reconstruction_note(task: str) -> str | None:
    """How the retrieval corpus of `task` is rebuilt from the released rows, for the task info page."""
    if task in SYMMETRIC_RETRIEVAL:
        return SYMMETRIC_RETRIEVAL_NOTE
    if task in ASYMMETRIC_FIELDS:
        query, target = ASYMMETRIC_FIELDS[task]
        return ASYMMETRIC_RETRIEVAL_NOTE.format(query=query, target=target)
    return None
