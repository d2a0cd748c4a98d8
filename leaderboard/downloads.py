"""CSV downloads as private files in a folder this process owns, deleted once nobody has asked for them a while.

Each distinct download is written once to a fresh folder (unique name, mode 0700) as `<name>.csv` (mode 0600);
asking for the same text again reuses that file and marks it used. Every time a new file is written, files
unused for `lifetime_s` (10 minutes by default) are deleted. The whole folder goes when the process exits.
Gradio copies each file it sends into its own cache, so deleting ours never breaks a download in flight.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

LIFETIME_S = 600.0
PRIVATE_FILE = 0o600


class DownloadFolder:
    def __init__(self, parent: str | os.PathLike | None = None, lifetime_s: float = LIFETIME_S):
        """`parent`: where to make this process's private folder (default: the system temp folder)."""
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="patenteb-downloads-", dir=parent))
        self.lifetime_s = lifetime_s
        self._files: dict[tuple[str, str], Path] = {}
        self._lock = threading.Lock()
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)

    def file_for(self, text: str, name: str) -> Path:
        """A private file holding `text`, named `name`: the one already written for this text, or a new one."""
        key = (hashlib.sha256(text.encode()).hexdigest(), name)
        with self._lock:
            path = self._files.get(key)
            if path is not None and path.exists():
                os.utime(path.parent)
                return path
            self._delete_unused()
            path = self._write(text, name)
            self._files[key] = path
            return path

    def _write(self, text: str, name: str) -> Path:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.folder))
        path = folder / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        return path

    def _delete_unused(self) -> None:
        oldest_kept = time.time() - self.lifetime_s
        for folder in self.folder.iterdir() if self.folder.exists() else ():
            try:
                unused = folder.stat().st_mtime < oldest_kept
            except FileNotFoundError:
                continue
            if unused:
                shutil.rmtree(folder, ignore_errors=True)
        self._files = {key: path for key, path in self._files.items() if path.exists()}
