"""Tables of the evaluation queue (submissions, jobs, leases). Versions 100-199."""

MIGRATIONS: list[tuple[int, str, str]] = []
