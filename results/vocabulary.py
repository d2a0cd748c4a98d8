"""Names shared by every package: provenance labels, and the benchmark's names from `patenteb.catalogue`.

Plain constants only, so that leaderboard/, explorer/ and evaluator/ can import them without touching SQL.
"""

from patenteb.catalogue import FAMILIES, METRIC_KEYS, PATENTEB, REPORTED_OVERALL_TASK

__all__ = [
    "DEFAULT_SUBSET",
    "EVALUATED",
    "NO_PROMPTS_VARIANT",
    "FAMILIES",
    "METRIC_KEYS",
    "PATENTEB",
    "PROVENANCE_DESCRIPTIONS",
    "PROVENANCE_PREFERENCE",
    "REFERENCE_PROVENANCE",
    "REPORTED_OVERALL_TASK",
    "reference_provenance",
]

EVALUATED = "evaluated"
"""The provenance of scores this leaderboard's worker evaluated: the only ones with per-example data and a cost record."""

NO_PROMPTS_VARIANT = "@no-prompts"
"""The suffix of a model's name when it was evaluated without its own prompts (`--no-prompts`): its own row."""

PROVENANCE_PREFERENCE = ("paper", "authors-readme", "paper-secondary", "mteb-results", EVALUATED)
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

DEFAULT_SUBSET = "default"


def reference_provenance(label: str) -> str:
    label = label.strip()
    if label.startswith("secondary"):
        return "paper-secondary"
    try:
        return REFERENCE_PROVENANCE[label]
    except KeyError:
        raise ValueError(f"unknown provenance label in reference data: {label!r}") from None
