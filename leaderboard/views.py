"""The leaderboard's tables ("views") and the column names they share. Pure constants and small helpers."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from patenteb.statistics import INTERVAL_METHOD, RANK_METHOD
from results.vocabulary import FAMILIES, PATENTEB


@dataclass(frozen=True)
class View:
    key: str
    title: str
    benchmark: str
    family: str | None = None
    subfamily: str | None = None
    has_mean: bool = True


VIEWS: tuple[View, ...] = (
    View("overall", "Overall", PATENTEB),
    View("retrieval-symmetric", "Retrieval (symmetric)", PATENTEB, "retrieval", "symmetric"),
    View("retrieval-asymmetric", "Retrieval (asymmetric)", PATENTEB, "retrieval", "asymmetric"),
    View("classification", "Classification", PATENTEB, "classification"),
    View("clustering", "Clustering", PATENTEB, "clustering"),
    View("paraphrase", "Paraphrase", PATENTEB, "paraphrase"),
    View("external", "External", "external", has_mean=False),
    View("demo", "Demo (USPTO sample)", "demo"),
)
VIEWS_BY_KEY = {view.key: view for view in VIEWS}

RANK = "Rank"
MODEL = "Model"
OVERALL = "Overall"
MEAN_TASKS = "Mean (tasks)"
MEAN = "Mean"
REPORTED = "Reported overall"
COVERAGE = "Coverage"
PARAMS = "Params (M)"
DIM = "Dim"
MAX_TOKENS = "Max tokens"
PROMPTS = "Prompts"
PROMPT_EFFECT = "Prompt effect"
"""Where a model was also evaluated without its prompts: its mean with them minus its mean without, on the tasks of
the table both rows have (×100), shown on both rows."""
ZERO_SHOT = "Zero-shot"
"""'no' for models trained on PatenTEB's own training split (the patembed family), blank where unknown."""
BORDA_POINTS = "Borda points"
RANK_RANGE = "Rank range"
TIED = "Tied with above"
"""CSV/API only: True where the row's rank range overlaps the row above (the grid marks the Rank cell instead)."""
TIED_MARKER = "\u2248"
HARDWARE = "Hardware"
THROUGHPUT = "Encode texts/s"
PEAK_MEMORY = "Peak memory GiB"
EVAL_WALL = "Eval wall s"
EFFICIENCY_COLUMNS = (HARDWARE, THROUGHPUT, PEAK_MEMORY, EVAL_WALL)
FAMILY_TITLES = {family: family.capitalize() for family in FAMILIES}

AGGREGATION_RULE = (
    "**How the numbers are combined.** Scores are ×100. A family mean is shown only when the model has every "
    "task of that family (a partial model is never inflated by its easy tasks). *Overall* is the mean of the "
    "four family means (retrieval = all 8 retrieval tasks); *Mean (tasks)* is the plain mean over the 15 tasks; "
    "both are empty unless all 15 tasks are present. *Rank* is a Borda count over the table's tasks: on each "
    "task a model earns one point per model it beats, nothing when it has no score; ties share a rank. "
    "*Reported overall* is the authors' own PatenTEB score, shown as reported (their aggregation rule is not "
    "stated) and never mixed with the means computed here."
)


EFFICIENCY_RULE = (
    f"**Efficiency** ({HARDWARE}, {THROUGHPUT}, {PEAK_MEMORY}, {EVAL_WALL}): what this leaderboard's worker "
    "measured while evaluating the scores shown, over the table's tasks, on the hardware named in "
    f"*{HARDWARE}* (GPU name and precision, or CPU name and threads; throughputs from different hardware "
    f"are not comparable). *{THROUGHPUT}* is all texts the model encoded divided by the seconds spent "
    f"encoding them; *{PEAK_MEMORY}* the highest peak of any task (GPU memory allocated on a GPU, the "
    f"process's resident memory on a CPU); *{EVAL_WALL}* the summed wall time, shown only when every score "
    "in the row has a cost record. Blank: the score shown has no cost record (paper, third-party and MTEB "
    "imports); the columns appear in a table once any of its scores has one."
)


RANK_RULE = (
    f"**{RANK_RANGE}**. {RANK_METHOD} The mark {TIED_MARKER} after a *{RANK}* is that tie. Ranges are computed "
    "once per store generation and set of models shown (filters change which models are ranked)."
)
INTERVAL_RULE = (
    f"**95% intervals** (the *Show 95% intervals* box; `<column> ci_low` and `<column> ci_high` in the CSV and "
    f"the API): {INTERVAL_METHOD} Means over several tasks have none either. Computed when the scores are "
    "written, not when a table is shown."
)


def view_tasks(tasks: pd.DataFrame, view: View) -> pd.DataFrame:
    """The task rows a view's columns come from, in display order."""
    if view.key == "overall":
        selected = tasks[tasks["benchmark"] == PATENTEB]
    else:
        selected = tasks[tasks["benchmark"] == view.benchmark]
        if view.family is not None:
            selected = selected[selected["family"] == view.family]
        if view.subfamily is not None:
            selected = selected[selected["subfamily"] == view.subfamily]
    return selected.sort_values(["display_order", "task"], na_position="last")

