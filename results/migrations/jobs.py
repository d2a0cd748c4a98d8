"""Tables of the evaluation queue (submissions, jobs, leases). Versions 100-199."""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        100,
        "evaluation jobs with leases, remote-code allow-list",
        """
        CREATE SEQUENCE job_ids START 1;

        CREATE TABLE jobs (
            id                 BIGINT PRIMARY KEY DEFAULT nextval('job_ids'),
            model              VARCHAR NOT NULL,
            load_from          VARCHAR NOT NULL,
            revision           VARCHAR NOT NULL,
            requested_revision VARCHAR NOT NULL,
            precision          VARCHAR NOT NULL,
            selection          VARCHAR NOT NULL,
            tasks              VARCHAR[] NOT NULL,
            submitter          VARCHAR,
            note               VARCHAR,
            status             VARCHAR NOT NULL,
            attempts           INTEGER NOT NULL DEFAULT 0,
            submitted_at       TIMESTAMP NOT NULL,
            started_at         TIMESTAMP,
            finished_at        TIMESTAMP,
            worker             VARCHAR,
            lease_token        VARCHAR,
            lease_expires_at   TIMESTAMP,
            error              VARCHAR,
            result             VARCHAR
        );

        CREATE TABLE remote_code_allowed (
            model      VARCHAR PRIMARY KEY,
            allowed_by VARCHAR,
            allowed_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        101,
        "jobs: whether the submitter's name was verified by a Hub sign-in",
        """
        ALTER TABLE jobs ADD COLUMN submitter_verified BOOLEAN NOT NULL DEFAULT false;
        """,
    ),
]
