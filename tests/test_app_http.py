"""The running app over real HTTP: it serves only its own current files and takes no large uploads."""

from __future__ import annotations

import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser import running_app
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def status_of(request: urllib.request.Request | str) -> int:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, seeded_store_template):
    folder = tmp_path_factory.mktemp("http")
    store = folder / "store.duckdb"
    store.write_bytes(seeded_store_template.read_bytes())
    with running_app(store, folder / "app.log", {"PATENTEB_NO_WORKER": "1"}) as url:
        yield url, store


def test_files_outside_the_apps_own_temp_folder_are_refused(app_url):
    url, store = app_url
    foreign_download = Path(tempfile.gettempdir()) / "gradio" / "leaderboard.csv"
    foreign_download.parent.mkdir(parents=True, exist_ok=True)
    foreign_download.write_text("model,score\nsomeone-elses-run,1\n")
    for path in ("/etc/passwd", str(store), str(REPO / "app.py"), str(foreign_download)):
        assert status_of(f"{url}gradio_api/file={path}") == 403, path


def test_large_uploads_are_refused_and_small_ones_accepted(app_url):
    url, _ = app_url

    def upload(size: int) -> int:
        boundary = "patenteb-test-boundary"
        body = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode() + b"x" * size + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(
            f"{url}gradio_api/upload", data=body, method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        return status_of(request)

    assert upload(1_000) == 200
    assert upload(2_000_000) == 413
