"""What the leaderboard computes once per store generation, shared by the Leaderboard tab and the public API.

Bounded LRU caches, so a table switch, a repeated comparison or a repeated drill-down is a lookup:
- boards (chosen cells, their stored intervals, and the rank ranges each board keeps per view and set of models)
  per (store generation, provenance choice): MAX_BOARDS, every provenance choice of one generation (visitors
  ticking provenance boxes no longer rebuild boards, ~90 ms each); about 0.3 MB a board for today's 45 models;
- each evaluated cell's bootstrap draws (what its rank range resamples) come from the store (`score_draws`, saved
  with its interval); a cell without saved draws (a store written before they were kept) has them computed from
  its examples, kept per content of the cell (model, revision, task, split, subset, value and stored interval),
  so a new generation recomputes only the cells that changed: MAX_CELL_DRAWS, 1,000 floats each (32 MB at most);
- comparisons of two models and drill-downs, per (store generation, models, tasks): MAX_COMPARISONS and
  MAX_DRILL_DOWNS.

Per-example rows are read through Store.example_scores (results/ does the SQL), one (model, task) at a time.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from leaderboard.compare import (
    DrillDown,
    ModelComparison,
    check_pair,
    compare_models,
    demo_texts,
    drill_down,
    evaluated_revisions,
    of_revisions,
)
from leaderboard.confidence import CellKey, cell_bootstrap, cells_with_intervals
from leaderboard.tables import Board, choose_cells, prepare_board
from patenteb.catalogue import BY_NAME
from patenteb.lru import LruCache
from patenteb.statistics import StatisticsInputError, draws_by_task
from results.store import Snapshot, Store
from results.vocabulary import PROVENANCE_PREFERENCE

log = logging.getLogger(__name__)

MAX_BOARDS = 2 ** len(PROVENANCE_PREFERENCE)
MAX_CELL_DRAWS = 4096
MAX_COMPARISONS = 32
MAX_DRILL_DOWNS = 32


class BoardCache:
    """Boards, cell draws, comparisons and drill-downs over one store (see the module's docstring).

    Without a store (`BoardCache()`), boards have no bootstrap draws (rank ranges then resample the tasks only)
    and comparisons are refused."""

    def __init__(self, store: Store | None = None):
        self.store = store
        self._boards: LruCache[Board] = LruCache(MAX_BOARDS)
        self.cell_draws: LruCache[np.ndarray] = LruCache(MAX_CELL_DRAWS)
        self.comparisons: LruCache[ModelComparison] = LruCache(MAX_COMPARISONS)
        self.drill_downs: LruCache[DrillDown] = LruCache(MAX_DRILL_DOWNS)

    def get(self, snapshot: Snapshot, provenances: tuple[str, ...]) -> Board:
        return self._boards.get((snapshot.generation, provenances), lambda: self._prepare(snapshot, provenances))

    def _prepare(self, snapshot: Snapshot, provenances: tuple[str, ...]) -> Board:
        cells = choose_cells(snapshot.scores, provenances)
        return prepare_board(
            cells, snapshot.tasks, snapshot.models, snapshot.costs, snapshot.intervals, self._draws(snapshot, cells)
        )

    def _draws(self, snapshot: Snapshot, cells: pd.DataFrame) -> dict[CellKey, np.ndarray]:
        """The bootstrap draws of every shown cell with per-example data; a cell whose rows the statistics refuse
        is logged and left to task resampling."""
        if self.store is None:
            return {}
        loaded: dict[tuple[str, str], pd.DataFrame] = {}

        def examples(model: str, task: str) -> pd.DataFrame:
            if (model, task) not in loaded:
                loaded[(model, task)] = self.store.example_scores(model=model, task=task)
            return loaded[(model, task)]

        draws = {}
        shown = cells_with_intervals(cells, snapshot.intervals)
        saved = self.store.score_draws(shown) if not shown.empty else {}
        for cell in shown.itertuples(index=False):
            fingerprint = (cell.model, cell.revision, cell.task, cell.split, cell.subset, cell.value, cell.low, cell.high)
            found = saved.get((cell.model, cell.revision, cell.task, cell.split, cell.subset))
            try:
                draws[(cell.model, cell.task, cell.subset)] = found if found is not None else self.cell_draws.get(
                    fingerprint,
                    lambda: cell_bootstrap(examples(cell.model, cell.task), cell.revision, cell.split, cell.subset),
                )
            except StatisticsInputError as error:
                log.warning("no bootstrap draws for %s on %s (%s): %s", cell.model, cell.task, cell.subset, error)
        return draws

    # comparisons -------------------------------------------------------------------------------------------

    @staticmethod
    def models_with_examples(snapshot: Snapshot) -> list[str]:
        """Models with per-example data on at least one task (those that can be compared), by name."""
        return sorted(set(snapshot.intervals["model"].astype(str)), key=str.lower)

    @staticmethod
    def tasks_with_examples(snapshot: Snapshot) -> list[str]:
        tasks = set(snapshot.intervals["task"].astype(str))
        return sorted(tasks, key=lambda task: (task not in BY_NAME, BY_NAME[task].display_order if task in BY_NAME else 0, task))

    def _check(self, snapshot: Snapshot, model_a: str, model_b: str) -> None:
        if self.store is None:
            raise StatisticsInputError("comparisons need the results store")
        check_pair(model_a, model_b, set(snapshot.models["model"]), set(self.models_with_examples(snapshot)))

    def _examples(self, snapshot: Snapshot, models: tuple[str, str], task: str | None = None) -> pd.DataFrame:
        frames = [self.store.example_scores(model=model, task=task) for model in models]
        return of_revisions(pd.concat(frames, ignore_index=True), evaluated_revisions(snapshot.scores))

    def comparison(
        self, snapshot: Snapshot, model_a: str, model_b: str, tasks: tuple[str, ...] | None = None
    ) -> ModelComparison:
        """A against B on every task both have per-example data for (or on `tasks`). Raises
        StatisticsInputError (ComparisonError) with a message to show for a pair that cannot be compared."""
        self._check(snapshot, model_a, model_b)
        tasks = tuple(dict.fromkeys(tasks)) if tasks else None
        return self.comparisons.get(
            (snapshot.generation, model_a, model_b, tasks),
            lambda: self._compare(snapshot, model_a, model_b, tasks),
        )

    def _compare(self, snapshot: Snapshot, model_a: str, model_b: str, tasks: tuple[str, ...] | None) -> ModelComparison:
        examples = self._examples(snapshot, (model_a, model_b))
        draws = draws_by_task(self.store.score_draws(examples))
        return compare_models(examples, model_a, model_b, tasks, snapshot.scores, draws)

    def drill_down(self, snapshot: Snapshot, model_a: str, model_b: str, task: str) -> DrillDown:
        """The examples of `task` where A beats B most and B beats A most (texts for the shipped demo tasks)."""
        self._check(snapshot, model_a, model_b)
        return self.drill_downs.get(
            (snapshot.generation, model_a, model_b, task),
            lambda: drill_down(self._examples(snapshot, (model_a, model_b), task), model_a, model_b, task, demo_texts),
        )
