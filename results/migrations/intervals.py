"""Bootstrap intervals of evaluated scores, computed from their per-example rows when those are written
(`results.store`, with patenteb/statistics.py). Versions 500-599."""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        500,
        "score intervals: the 95 % bootstrap interval of each evaluated task's main score, from its per-example rows",
        """
        CREATE TABLE score_intervals (
            model       VARCHAR NOT NULL,
            revision    VARCHAR NOT NULL,
            task        VARCHAR NOT NULL,
            split       VARCHAR NOT NULL,
            subset      VARCHAR NOT NULL,
            metric      VARCHAR NOT NULL,
            low         DOUBLE,
            high        DOUBLE,
            n_resamples INTEGER NOT NULL,
            method      VARCHAR NOT NULL,
            PRIMARY KEY (model, revision, task, split, subset, metric)
        );
        """,
    ),
    (
        501,
        "score draws: the bootstrap distribution behind each interval, so that rank ranges and paired comparisons "
        "reuse it instead of resampling the examples again",
        """
        CREATE TABLE score_draws (
            model       VARCHAR NOT NULL,
            revision    VARCHAR NOT NULL,
            task        VARCHAR NOT NULL,
            split       VARCHAR NOT NULL,
            subset      VARCHAR NOT NULL,
            metric      VARCHAR NOT NULL,
            draws       FLOAT[] NOT NULL,
            PRIMARY KEY (model, revision, task, split, subset, metric)
        );
        """,
    ),
]
