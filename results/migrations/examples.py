"""Per-example scores of evaluated tasks (evaluator/tasks/examples.py says what each family keeps). Versions 400-499."""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        400,
        "per-example scores: each query's NDCG@10, each test row's labels, each item's cluster, each pair's similarity",
        """
        CREATE TABLE example_scores (
            model      VARCHAR NOT NULL,
            revision   VARCHAR NOT NULL,
            task       VARCHAR NOT NULL,
            split      VARCHAR NOT NULL,
            subset     VARCHAR NOT NULL,
            example_id VARCHAR NOT NULL,
            metric     VARCHAR NOT NULL,
            value      DOUBLE,
            gold       VARCHAR,
            predicted  VARCHAR,
            retrieved  VARCHAR,
            PRIMARY KEY (model, revision, task, split, subset, example_id)
        );
        """,
    ),
]
