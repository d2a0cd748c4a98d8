"""Tables of the explorer (corpus indexes, cached projections). Versions 200-299."""

MIGRATIONS: list[tuple[int, str, str]] = []
