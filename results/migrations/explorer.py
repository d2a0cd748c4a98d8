"""Tables of the explorer (corpus indexes, cached projections). Versions 200-299."""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        200,
        "explorer: corpus index registry and cached UMAP projections",
        """
        CREATE TABLE explorer_indexes (
            model         VARCHAR NOT NULL,
            revision      VARCHAR NOT NULL,
            corpus_hash   VARCHAR NOT NULL,
            kind          VARCHAR NOT NULL,
            vector_path   VARCHAR NOT NULL,
            n_documents   INTEGER NOT NULL,
            dim           INTEGER,
            settings      VARCHAR NOT NULL,
            built_at      TIMESTAMP NOT NULL,
            build_seconds DOUBLE,
            PRIMARY KEY (model, revision, corpus_hash)
        );

        CREATE TABLE explorer_projections (
            model           VARCHAR NOT NULL,
            revision        VARCHAR NOT NULL,
            corpus_hash     VARCHAR NOT NULL,
            sample          VARCHAR NOT NULL,
            parameters      VARCHAR NOT NULL,
            positions       INTEGER[] NOT NULL,
            x               FLOAT[] NOT NULL,
            y               FLOAT[] NOT NULL,
            metrics         VARCHAR NOT NULL,
            computed_at     TIMESTAMP NOT NULL,
            compute_seconds DOUBLE,
            PRIMARY KEY (model, revision, corpus_hash, sample, parameters)
        );
        """,
    ),
]
