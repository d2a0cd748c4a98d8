"""The store's schema as ordered migrations; `Store` applies the missing ones when it first opens a file.

Each area keeps its DDL in its own module; a migration is (version, description, SQL) and is never edited
once it has shipped: change the schema by appending a new version.
"""

from results.migrations import core, efficiency, examples, explorer, intervals, jobs

MIGRATIONS: list[tuple[int, str, str]] = sorted(
    core.MIGRATIONS + jobs.MIGRATIONS + explorer.MIGRATIONS + efficiency.MIGRATIONS + examples.MIGRATIONS
    + intervals.MIGRATIONS
)
LATEST_VERSION = MIGRATIONS[-1][0]
