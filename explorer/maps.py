"""UMAP maps of a model's corpus embeddings, and how well those embeddings separate CPC sections.

The numbers are computed on the full-dimensional vectors, not on the 2-D projection: V-measure of k-means
(k = number of sections present) against the sections, and the cosine silhouette of each section.

BM25 has no embeddings; its map is of the same words it scores: TF-IDF vectors of the sampled abstracts
reduced to LEXICAL_VECTORS["components"] dimensions by truncated SVD (latent semantic analysis), then UMAP.
"""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd

from explorer.corpus import SECTION_TITLES, UNLABELLED
from patenteb import plots

UMAP_PARAMETERS = {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "random_state": 42}
SAMPLE_SEED = 0
MAP_SAMPLE_LIMITS = (1_000, 10_000)
MAP_SAMPLE_STEP = 1_000
DEFAULT_MAP_SAMPLE = 2_000
MIN_POINTS = 20
COMPILE_POINTS = 64
COLOUR_BY = ("section", "class")
TOP_CLASSES = 10
OTHER = "other"
HOVER_CHARACTERS = 160
PALETTE = [
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d", "#ff9da6",
    "#79706e", "#1f77b4", "#2ca02c",
]
MUTED = "#c7c7c7"
MESSAGE_LAYOUT = {"height": 460, "template": "plotly_white"}
LEXICAL_VECTORS = {
    "tfidf": {"sublinear_tf": True, "stop_words": "english", "min_df": 2},
    "components": 100,
    "random_state": 0,
    "description": "TF-IDF (sublinear tf, English stopwords) reduced to 100 dimensions by truncated SVD",
}


def parameters_key(parameters: dict = UMAP_PARAMETERS) -> str:
    return json.dumps(parameters, sort_keys=True)


def lexical_vectors(texts: list[str], settings: dict = LEXICAL_VECTORS) -> np.ndarray:
    """L2-normalised float32 rows: TF-IDF of `texts`, reduced by truncated SVD (fewer components on tiny corpora)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    tfidf = TfidfVectorizer(**settings["tfidf"]).fit_transform(texts)
    components = max(1, min(settings["components"], tfidf.shape[1] - 1, len(texts) - 1))
    reduced = TruncatedSVD(n_components=components, random_state=settings["random_state"]).fit_transform(tfidf)
    return normalize(reduced).astype(np.float32)


def sample_positions(n_documents: int, sample_size: int, seed: int = SAMPLE_SEED) -> tuple[str, np.ndarray]:
    """A reproducible random sample (the same for every model), with a label naming it in the cache."""
    if sample_size >= n_documents:
        return f"all-{n_documents}", np.arange(n_documents)
    positions = np.sort(np.random.default_rng(seed).permutation(n_documents)[:sample_size])
    return f"random-{sample_size}-of-{n_documents}-seed{seed}", positions


def umap_projection(vectors: np.ndarray, parameters: dict = UMAP_PARAMETERS) -> np.ndarray:
    """2-D UMAP coordinates (float32). The first call in a process pays numba's compile (~25 s on this machine,
    most of UMAP's compiled code being uncached) unless `compile_projection` ran before."""
    import umap

    if len(vectors) < MIN_POINTS:
        raise ValueError(f"a map needs at least {MIN_POINTS} documents, got {len(vectors)}")
    reducer = umap.UMAP(n_components=2, n_jobs=1, **parameters)
    return reducer.fit_transform(np.asarray(vectors, dtype=np.float32)).astype(np.float32)


def compile_projection() -> None:
    """Run UMAP once on random points so that numba compiles its code now (the same code a map runs: the types,
    not the sizes, choose it), not while the first visitor waits for a map."""
    umap_projection(np.random.default_rng(SAMPLE_SEED).normal(size=(COMPILE_POINTS, 16)).astype(np.float32))


def embedding_metrics(vectors: np.ndarray, sections: np.ndarray, seed: int = 0) -> dict:
    """V-measure of k-means vs section and silhouette by section, over documents that have a section."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_samples, v_measure_score

    sections = np.asarray(sections, dtype=object)
    labelled = sections != ""
    labels = sections[labelled]
    present = sorted(set(labels))
    counts = {section: int(np.count_nonzero(labels == section)) for section in present}
    metrics = {"n_points": int(len(sections)), "n_labelled": int(labelled.sum()), "section_counts": counts}
    if len(present) < 2 or len(labels) <= len(present):
        metrics["note"] = "fewer than two CPC sections among the labelled documents: no clustering scores"
        return metrics
    labelled_vectors = np.asarray(vectors, dtype=np.float32)[labelled]
    clusters = KMeans(n_clusters=len(present), n_init=4, random_state=seed).fit_predict(labelled_vectors)
    silhouettes = silhouette_samples(labelled_vectors, labels, metric="cosine")
    metrics.update(
        k=len(present),
        v_measure=round(float(v_measure_score(labels, clusters)), 4),
        silhouette=round(float(silhouettes.mean()), 4),
        silhouette_by_section={
            section: round(float(silhouettes[labels == section].mean()), 4) for section in present
        },
    )
    return metrics


def colour_labels(frame: pd.DataFrame, colour_by: str = "section", top_n: int = TOP_CLASSES) -> pd.Series:
    """One legend label per row: its section, or its class when among the `top_n` most frequent (else "other")."""
    if colour_by == "section":
        return frame["first_section"].map(
            lambda section: f"{section} · {SECTION_TITLES[section]}" if section in SECTION_TITLES else UNLABELLED
        )
    if colour_by == "class":
        classes = frame["first_class"]
        top = set(classes.dropna().value_counts().head(top_n).index)
        return classes.map(lambda code: UNLABELLED if not isinstance(code, str) else (code if code in top else OTHER))
    raise ValueError(f"unknown colouring {colour_by!r}; use one of {', '.join(COLOUR_BY)}")


def map_points(corpus_frame: pd.DataFrame, positions: np.ndarray, coordinates: np.ndarray) -> pd.DataFrame:
    rows = corpus_frame.iloc[positions]
    return pd.DataFrame(
        {
            "x": coordinates[:, 0],
            "y": coordinates[:, 1],
            "id": rows["id"].to_numpy(),
            "codes": [", ".join(codes[:4]) + (" …" if len(codes) > 4 else "") for codes in rows["codes"]],
            "start": [_start_of(text) for text in rows["text"]],
            "first_section": rows["first_section"].to_numpy(),
            "first_class": rows["first_class"].to_numpy(),
        }
    )


def message_figure(message: str):
    return plots.message_figure(message, layout=MESSAGE_LAYOUT)


@plots.fail_safe(prefix="Cannot draw this map", layout=MESSAGE_LAYOUT)
def map_figure(points: pd.DataFrame, colour_by: str = "section", title: str = "", top_n: int = TOP_CLASSES):
    """A WebGL scatter, one trace per colour label (unlabelled and other in grey, drawn first)."""
    import plotly.graph_objects as go

    if points.empty:
        return message_figure("Cannot draw this map: no points to draw")
    labels = colour_labels(points, colour_by, top_n)
    named = sorted(set(labels) - {UNLABELLED, OTHER})
    ordered = [label for label in (UNLABELLED, OTHER) if label in set(labels)] + named
    figure = go.Figure()
    for label in ordered:
        members = points[labels == label]
        colour = MUTED if label in (UNLABELLED, OTHER) else PALETTE[named.index(label) % len(PALETTE)]
        figure.add_trace(
            go.Scattergl(
                x=members["x"],
                y=members["y"],
                mode="markers",
                name=f"{label} ({len(members)})",
                marker={"size": 4, "color": colour, "opacity": 0.75},
                customdata=np.column_stack([members["id"], members["codes"], members["start"]]),
                hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]}<br>%{customdata[2]}<extra></extra>",
            )
        )
    figure.update_layout(
        title=title,
        height=600,
        template="plotly_white",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"visible": False},
        yaxis={"visible": False},
        legend={"itemsizing": "constant", "font": {"size": 11}, "orientation": "h", "y": -0.02, "yanchor": "top"},
    )
    return figure


def metrics_markdown(metrics: dict, label: str = "") -> str:
    lines = [f"**{label}**" if label else ""]
    lines.append(f"{metrics['n_points']:,} documents, {metrics['n_labelled']:,} with a CPC section")
    if "v_measure" not in metrics:
        lines.append(metrics.get("note", ""))
        return "\n\n".join(line for line in lines if line)
    lines.append(
        f"V-measure, k-means (k={metrics['k']}) vs section: **{metrics['v_measure']:.3f}** · "
        f"silhouette by section (cosine): **{metrics['silhouette']:.3f}**"
    )
    table = ["| section | docs | silhouette |", "|---|---:|---:|"]
    for section, value in metrics["silhouette_by_section"].items():
        name = f"{section} · {SECTION_TITLES.get(section, '')}"
        table.append(f"| {name} | {metrics['section_counts'][section]:,} | {value:.3f} |")
    lines.append("\n".join(table))
    on = metrics.get("vectors") or "the full-dimensional embeddings"
    lines.append(f"Computed on {on}, not on the 2-D map.")
    return "\n\n".join(line for line in lines if line)


def _start_of(text: str) -> str:
    start = text if len(text) <= HOVER_CHARACTERS else text[:HOVER_CHARACTERS].rsplit(" ", 1)[0] + " …"
    return html.escape(start)
