"""How each task is evaluated here, in plain language for the Tasks tab. Plain data: importing it loads no mteb."""

from __future__ import annotations

from patenteb.catalogue import BY_NAME, PAIRED_FIELDS, SYMMETRIC_RETRIEVAL

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
    "split (each up to 16,384 documents) and the V-measures are averaged. Each document's own cluster (kept "
    "per example, and what per-example V-measure intervals and comparisons use) comes from one more k-means with "
    "the same settings over the whole split, on the same embeddings."
)
PARAPHRASE_NOTE = (
    "Scored as STS: the cosine similarity of the two texts' embeddings against the 0/1 label, Pearson r."
)


def evaluation_note(name: str) -> str | None:
    """How task `name` is evaluated here, in one paragraph for the task info page."""
    family = BY_NAME[name].family if name in BY_NAME else None
    if family == "retrieval":
        return reconstruction_note(name)
    if name == "class_nli_oldnew":
        return PAIR_CLASSIFICATION_NOTE
    return {"classification": CLASSIFICATION_NOTE, "clustering": CLUSTERING_NOTE, "paraphrase": PARAPHRASE_NOTE}.get(
        family
    )


def reconstruction_note(name: str) -> str | None:
    """How the retrieval corpus of task `name` is rebuilt from the released rows, for the task info page."""
    if name in SYMMETRIC_RETRIEVAL:
        return SYMMETRIC_RETRIEVAL_NOTE
    if name in PAIRED_FIELDS:
        query, target = PAIRED_FIELDS[name]
        return ASYMMETRIC_RETRIEVAL_NOTE.format(query=query, target=target)
    return None
