"""What each evaluated task cost (evaluator/devices.py measures it). Versions 300-399."""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        300,
        "evaluation costs: device, throughput, peak memory and wall time of each evaluated task",
        """
        CREATE TABLE evaluation_costs (
            model           VARCHAR NOT NULL,
            revision        VARCHAR NOT NULL,
            task            VARCHAR NOT NULL,
            device          VARCHAR NOT NULL,
            device_name     VARCHAR,
            threads         INTEGER,
            precision       VARCHAR,
            batch_size      INTEGER,
            texts_requested BIGINT,
            texts_encoded   BIGINT,
            encode_s        DOUBLE,
            texts_per_s     DOUBLE,
            peak_memory_gib DOUBLE,
            memory_kind     VARCHAR,
            wall_s          DOUBLE,
            host            VARCHAR,
            evaluated_at    TIMESTAMP,
            PRIMARY KEY (model, revision, task)
        );
        """,
    ),
]
