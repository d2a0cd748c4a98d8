"""Errors whose message is meant for the person at the keyboard (a visitor in the UI, a maintainer at the CLI)."""


class ExplorerError(Exception):
    """A problem explained in one line; the UI shows it, the CLI prints it and exits non-zero."""


class UnknownModel(ExplorerError):
    pass


class UnknownPatent(ExplorerError):
    pass


class ModelUnavailable(ExplorerError):
    """A registered model that cannot be loaded here; the message says why."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name} cannot be loaded: {reason}")
        self.name = name
        self.reason = reason


class MissingIndex(ExplorerError):
    def __init__(self, name: str):
        super().__init__(f"{name} has no index for this corpus yet; build it with: python -m explorer index --model {name}")
        self.name = name


class BadQuery(ExplorerError):
    pass
