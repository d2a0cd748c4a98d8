"""Core tables: tasks, models, scores, and the generation counter readers watch. Versions 1-99."""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "tasks, models, long-form scores, generation counter",
        """
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        INSERT INTO meta VALUES ('generation', '0');

        CREATE TABLE tasks (
            task            VARCHAR PRIMARY KEY,
            benchmark       VARCHAR NOT NULL,
            family          VARCHAR NOT NULL,
            subfamily       VARCHAR,
            label           VARCHAR,
            main_metric     VARCHAR NOT NULL,
            metric_label    VARCHAR,
            eval_split      VARCHAR NOT NULL DEFAULT 'test',
            description     VARCHAR,
            test_size       INTEGER,
            train_subset    VARCHAR,
            dataset         VARCHAR,
            hf_columns      VARCHAR,
            query_prompt    VARCHAR,
            document_prompt VARCHAR,
            prompt_source   VARCHAR,
            source          VARCHAR,
            display_order   INTEGER
        );

        CREATE TABLE models (
            model          VARCHAR PRIMARY KEY,
            display_name   VARCHAR,
            hub_id         VARCHAR,
            model_group    VARCHAR,
            params_m       DOUBLE,
            embedding_dim  INTEGER,
            max_tokens     INTEGER,
            uses_prompts   BOOLEAN,
            license        VARCHAR,
            release_date   VARCHAR,
            initialization VARCHAR,
            notes          VARCHAR,
            source         VARCHAR
        );

        CREATE TABLE scores (
            model             VARCHAR NOT NULL,
            revision          VARCHAR NOT NULL,
            task              VARCHAR NOT NULL,
            split             VARCHAR NOT NULL,
            subset            VARCHAR NOT NULL,
            metric            VARCHAR NOT NULL,
            provenance        VARCHAR NOT NULL,
            value             DOUBLE,
            source            VARCHAR,
            prompt            VARCHAR,
            mteb_version      VARCHAR,
            evaluated_at      TIMESTAMP,
            evaluation_time_s DOUBLE,
            notes             VARCHAR,
            PRIMARY KEY (model, revision, task, split, subset, metric, provenance)
        );
        """,
    ),
    (
        2,
        "the dataset revision each score ran on; what each model was trained on",
        """
        ALTER TABLE scores ADD COLUMN dataset_revision VARCHAR;
        ALTER TABLE models ADD COLUMN training_data VARCHAR;
        ALTER TABLE models ADD COLUMN zero_shot BOOLEAN;
        """,
    ),
]
