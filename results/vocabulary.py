"""Names shared by every package: provenance labels, families, metric keys.

Plain constants only, so that leaderboard/, explorer/ and evaluator/ can import them without touching SQL.
"""

PROVENANCE_PREFERENCE = ("paper", "authors-readme", "paper-secondary", "mteb-results", "evaluated")
"""When one cell has values from several sources, the first provenance in this order is shown."""

PROVENANCE_DESCRIPTIONS = {
    "paper": "reported in the PatenTEB paper (abstract)",
    "authors-readme": "reported in the authors' GitHub README, not the paper",
    "paper-secondary": "a paper table as quoted by a third party (unverified against the PDF)",
    "mteb-results": "the public MTEB results repository",
    "evaluated": "evaluated by this leaderboard's worker",
}

REFERENCE_PROVENANCE = {
    "primary": "paper",
    "primary (repo), not paper": "authors-readme",
    "primary (authors' repo), not the paper": "authors-readme",
}
"""Labels used in results/seeds/reference/*.csv; any label starting with 'secondary' is 'paper-secondary'."""

METRIC_KEYS = {
    "NDCG@10": "ndcg_at_10",
    "NDCG@100": "ndcg_at_100",
    "Macro-F1": "f1",
    "V-measure": "v_measure",
    "Pearson r": "cosine_pearson",
    "Accuracy": "accuracy",
    "PatenTEB overall score": "overall",
}
"""Metric labels of the papers and dataset cards -> the metric keys mteb writes in result files."""

PATENTEB = "PatenTEB"
FAMILIES = ("retrieval", "classification", "clustering", "paraphrase")
BENCHMARKS = (PATENTEB, "external", "demo", "aggregate")
REPORTED_OVERALL_TASK = "PatenTEB-overall-reported"
DEFAULT_SUBSET = "default"


def reference_provenance(label: str) -> str:
    label = label.strip()
    if label.startswith("secondary"):
        return "paper-secondary"
    try:
        return REFERENCE_PROVENANCE[label]
    except KeyError:
        raise ValueError(f"unknown provenance label in reference data: {label!r}") from None
