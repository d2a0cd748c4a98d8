"""Importing mteb result files: every score of the shared sample, bad files, re-imports, and the CLI."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from patenteb.catalogue import TASKS
from results import cli
from results.importer import import_mteb_results
from results.seed import MTEB_SAMPLE, MTEB_SAMPLE_LABEL, REFERENCE, seed
from results.store import Store
from tests.cli import CliResult, run_in_process
from tests.conftest import REPO

NON_METRIC_KEYS = {"hf_subset", "languages", "main_score", "evaluation_time", "kg_co2_emissions"}


def _expected_rows(results_root: Path) -> dict[tuple, float | None]:
    """Every (model folder, revision, task, split, subset, metric) -> value, read straight from the JSON files."""
    expected = {}
    for path in results_root.rglob("*.json"):
        if path.name == "model_meta.json":
            continue
        document = json.loads(path.read_text())
        meta_path = path.parent / "model_meta.json"
        model = json.loads(meta_path.read_text())["name"] if meta_path.exists() else path.parent.parent.name.replace("__", "/", 1)
        for split, entries in document["scores"].items():
            for entry in entries:
                for key, value in entry.items():
                    if key in NON_METRIC_KEYS or isinstance(value, (bool, list, dict, str)) or value is None:
                        continue
                    number = float(value)
                    expected[(model, path.parent.name, document["task_name"], split, entry["hf_subset"], key)] = (
                        number if math.isfinite(number) else None
                    )
    return expected


def _stored_rows(store: Store, provenance: str = "mteb-results") -> dict[tuple, float | None]:
    frame = store.all_scores()
    frame = frame[frame["provenance"] == provenance]
    return {
        (r.model, r.revision, r.task, r.split, r.subset, r.metric): (None if pd.isna(r.value) else r.value)
        for r in frame.itertuples(index=False)
    }


def test_every_score_of_the_shipped_sample_matches_its_json_file(seeded_store):
    sample = MTEB_SAMPLE
    report = import_mteb_results(seeded_store, [sample], source_label=MTEB_SAMPLE_LABEL)
    assert report.ok, report.skipped
    expected = _expected_rows(sample / "results")
    stored = _stored_rows(seeded_store)
    assert set(stored) == set(expected)
    for key, value in expected.items():
        assert stored[key] == pytest.approx(value, rel=0, abs=0), key
    assert report.files_seen == 45
    assert report.counts.written == 0


def test_the_sample_shapes_all_land(seeded_store):
    scores = seeded_store.all_scores()
    mteb = scores[scores["provenance"] == "mteb-results"]
    assert {"external", "1"} <= set(mteb["revision"])
    assert mteb["mteb_version"].isna().any()
    assert {"1.12.75", "1.18.0", "2.18.7"} <= set(mteb["mteb_version"].dropna())
    revisions = mteb[mteb["model"] == "intfloat/multilingual-e5-small"]["revision"].unique()
    assert len(revisions) == 2
    assert {"BigPatentClustering.v2", "BigPatentClustering", "PatentClassification"} <= set(mteb["task"])
    models = seeded_store.models().set_index("model")
    assert models.loc["sentence-transformers/all-MiniLM-L6-v2", "params_m"] == pytest.approx(22.7)
    assert models.loc["sentence-transformers/all-MiniLM-L6-v2", "max_tokens"] == 256


def _sample_copy(tmp_path: Path) -> Path:
    target = tmp_path / "checkout"
    shutil.copytree(MTEB_SAMPLE, target)
    return target


def test_bad_files_are_reported_by_path_and_the_rest_lands(tmp_path, empty_store):
    checkout = _sample_copy(tmp_path)
    folder = checkout / "results" / "sentence-transformers__all-MiniLM-L6-v2" / "8b3219a92973c328a8e22fadcfa821b5dc75636a"
    truncated = folder / "BigPatentClustering.v2.json"
    truncated.write_text(truncated.read_text()[:200])
    unknown = folder / "STS12.json"
    unknown.write_text(json.dumps({"task_name": "STS12", "mteb_version": "1.0", "scores": {"test": [{"hf_subset": "default", "main_score": 0.5}]}}))
    not_a_result = folder / "notes.json"
    not_a_result.write_text(json.dumps({"hello": "world"}))
    listing = folder / "list.json"
    listing.write_text("[1, 2, 3]")

    report = import_mteb_results(empty_store, [checkout])
    reasons = {path.name: reason for path, reason in report.skipped}
    assert set(reasons) == {"BigPatentClustering.v2.json", "STS12.json", "notes.json", "list.json"}
    assert "not valid JSON" in reasons["BigPatentClustering.v2.json"]
    assert "unknown task 'STS12'" in reasons["STS12.json"]
    assert "unknown task" in reasons["notes.json"] or "no 'scores'" in reasons["notes.json"]
    assert "not an mteb result" in reasons["list.json"]
    assert report.files_imported == 44
    stored = _stored_rows(empty_store)
    assert ("sentence-transformers/all-MiniLM-L6-v2", "8b3219a92973c328a8e22fadcfa821b5dc75636a", "PatentClassification", "test", "default", "accuracy") in stored
    assert not any(key[2] == "BigPatentClustering.v2" and key[0] == "sentence-transformers/all-MiniLM-L6-v2" for key in stored)


def test_import_into_a_store_that_was_never_seeded_takes_every_file(tmp_path, capsys):
    store = tmp_path / "new.duckdb"
    status = cli.main(["import-mteb", str(MTEB_SAMPLE), "--store", str(store)])
    output = capsys.readouterr()
    assert status == 0, output.err
    assert "45 of 45 result files imported; 0 skipped" in output.out
    assert _stored_rows(Store(store)) == _expected_rows(MTEB_SAMPLE / "results")


def test_bare_nan_and_an_old_dict_layout_are_accepted(tmp_path, empty_store):
    folder = tmp_path / "org__tiny" / "abc123"
    folder.mkdir(parents=True)
    (folder / "BigPatentClustering.v2.json").write_text(
        '{"task_name": "BigPatentClustering.v2", "mteb_version": "2.1.0", "date": 1760000000.0, '
        '"scores": {"test": [{"hf_subset": "default", "languages": ["eng-Latn"], "v_measure": NaN, '
        '"v_measure_std": 0.01, "main_score": NaN}]}}'
    )
    legacy = tmp_path / "org__legacy" / "def456"
    legacy.mkdir(parents=True)
    (legacy / "PatentClassification.json").write_text(
        json.dumps({"mteb_dataset_name": "PatentClassification", "mteb_version": "1.0.2",
                    "test": {"accuracy": 0.41, "f1": 0.35, "evaluation_time": 12.0}})
    )
    report = import_mteb_results(empty_store, [tmp_path])
    assert report.ok, report.skipped
    stored = _stored_rows(empty_store)
    assert stored[("org/tiny", "abc123", "BigPatentClustering.v2", "test", "default", "v_measure")] is None
    assert stored[("org/tiny", "abc123", "BigPatentClustering.v2", "test", "default", "v_measure_std")] == 0.01
    assert stored[("org/legacy", "def456", "PatentClassification", "test", "default", "accuracy")] == 0.41
    evaluated_at = empty_store.all_scores().set_index("model").loc["org/tiny", "evaluated_at"].iloc[0]
    assert pd.Timestamp(evaluated_at) == pd.Timestamp(1760000000.0, unit="s")


def test_reimporting_the_same_files_changes_nothing(tmp_path, seeded_store):
    before = seeded_store.all_scores()
    generation = seeded_store.generation()
    report = import_mteb_results(seeded_store, [MTEB_SAMPLE / "results"], source_label=MTEB_SAMPLE_LABEL)
    assert report.ok
    assert (report.counts.new, report.counts.changed) == (0, 0)
    assert seeded_store.generation() == generation
    pd.testing.assert_frame_equal(before, seeded_store.all_scores())


def test_seeding_twice_changes_nothing(seeded_store):
    before = seeded_store.all_scores()
    report = seed(seeded_store)
    assert report.tasks.written == report.models.written == report.reference_scores.written == 0
    assert report.mteb_sample.counts.written == 0
    pd.testing.assert_frame_equal(before, seeded_store.all_scores())


def test_reference_scores_keep_their_provenance_and_source(seeded_store):
    scores = seeded_store.all_scores()
    reference = pd.read_csv(REFERENCE / "patenteb_results.csv")
    paper_rows = scores[scores["provenance"].isin(["paper", "authors-readme", "paper-secondary"])]
    for row in reference.itertuples(index=False):
        task = "PatenTEB-overall-reported" if row.is_aggregate == "yes" else row.task_id
        match = paper_rows[(paper_rows["model"] == row.hf_id) & (paper_rows["task"] == task)]
        assert len(match) == 1, (row.hf_id, task)
        assert match["value"].iloc[0] == row.score
        expected = "paper-secondary" if row.provenance.startswith("secondary") else "authors-readme"
        assert match["provenance"].iloc[0] == expected
        assert row.source in match["source"].iloc[0]
    dapfam = paper_rows[(paper_rows["model"] == "datalyes/patembed-base") & (paper_rows["task"] == "DAPFAMAllTitlAbsClmToTitlAbsClmRetrieval")]
    assert sorted(zip(dapfam["subset"], dapfam["provenance"], dapfam["value"])) == [
        ("default", "authors-readme", 0.369), ("default", "paper-secondary", 0.370), ("no_prompt", "paper-secondary", 0.352)
    ]


def _cli_subprocess(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "results", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def _cli(*args: str) -> CliResult:
    return run_in_process(cli.main, list(args))


@pytest.mark.slow
def test_cli_seed_import_export_stats(tmp_path):
    store = str(tmp_path / "cli.duckdb")
    first = _cli("seed", "--store", store)
    assert first.returncode == 0, first.stderr
    assert "45 of 45 result files imported" in first.stdout
    second = _cli("seed", "--store", store)
    assert "score rows: 0 new, 0 changed, 95 unchanged" in second.stdout

    checkout = _sample_copy(tmp_path)
    broken = checkout / "results" / "BAAI__bge-base-en-v1.5" / "a5beb1e3e68b9ab74eb54cfd186867f64f240e1a" / "BigPatentClustering.v2.json"
    broken.write_text("{ nope")
    imported = _cli_subprocess("import-mteb", str(checkout), "--store", store)
    assert imported.returncode == 1
    assert f"skipped {broken}: not valid JSON" in imported.stderr
    assert "44 of 45 result files imported; 1 skipped" in imported.stdout

    stats = _cli("stats", "--json", "--store", store)
    counts = json.loads(stats.stdout)
    assert counts["tasks"] == len(TASKS) == 25
    assert counts["scores_by_provenance"]["mteb-results"] == 95

    for fmt in ("csv", "parquet"):
        out = tmp_path / f"scores.{fmt}"
        exported = _cli("export", "--format", fmt, "--out", str(out), "--store", store)
        assert exported.returncode == 0, exported.stderr
        frame = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        assert list(frame.columns[:8]) == ["model", "revision", "task", "split", "subset", "metric", "score", "provenance"]
        assert len(frame) == counts["scores"]
        minilm = frame[(frame["model"] == "sentence-transformers/all-MiniLM-L6-v2") & (frame["metric"] == "v_measure")
                       & (frame["task"] == "BigPatentClustering.v2")]
        assert minilm["score"].iloc[0] == pytest.approx(0.33036873395618593)


def test_cli_reports_a_missing_path_and_a_busy_store(tmp_path):
    store = str(tmp_path / "cli.duckdb")
    missing = _cli("import-mteb", str(tmp_path / "nowhere"), "--store", store)
    assert missing.returncode == 1
    assert "no such file or folder" in missing.stderr
    corrupt = tmp_path / "corrupt.duckdb"
    corrupt.write_text("garbage" * 1000)
    result = _cli("stats", "--store", str(corrupt))
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot open the store")
    assert "Traceback" not in result.stderr


def test_importing_the_seeded_sample_again_keeps_its_provenance(tmp_path):
    store = str(tmp_path / "seeded.duckdb")
    assert _cli("seed", "--store", store).returncode == 0
    before_scores, before_models = Store(store).all_scores(), Store(store).models()
    generation = Store(store).generation()

    imported = _cli("import-mteb", str(MTEB_SAMPLE), "--store", store)
    assert imported.returncode == 0, imported.stderr
    assert "score rows: 0 new, 0 changed, 95 unchanged" in imported.stdout
    after = Store(store)
    pd.testing.assert_frame_equal(before_scores, after.all_scores())
    pd.testing.assert_frame_equal(before_models, after.models())
    assert after.generation() == generation
    sources = set(after.all_scores().query("provenance == 'mteb-results'")["source"])
    assert len(sources) == 45 and all(source.startswith(MTEB_SAMPLE_LABEL + ": ") for source in sources)


def test_a_changed_figure_takes_the_source_of_the_file_it_came_from(tmp_path, seeded_store):
    checkout = _sample_copy(tmp_path)
    path = checkout / "results" / "BAAI__bge-base-en-v1.5" / "a5beb1e3e68b9ab74eb54cfd186867f64f240e1a" / "BigPatentClustering.v2.json"
    document = json.loads(path.read_text())
    document["scores"]["test"][0]["v_measure"] = 0.123
    path.write_text(json.dumps(document))
    report = import_mteb_results(seeded_store, [checkout])
    assert (report.counts.new, report.counts.changed) == (0, 1)
    rows = seeded_store.all_scores().query("provenance == 'mteb-results' and metric == 'v_measure' and value == 0.123")
    assert rows["source"].tolist() == [f"mteb result file: {path.relative_to(checkout / 'results')}"]


def test_the_cli_refuses_hostile_files_with_a_reason_and_imports_the_rest(tmp_path):
    store = str(tmp_path / "cli.duckdb")
    checkout = _sample_copy(tmp_path)
    folder = checkout / "results" / "org__hostile" / "rev1"
    folder.mkdir(parents=True)
    (folder / "PatentClassification.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "BigPatentClustering.v2.json").write_text(json.dumps(
        {"task_name": "BigPatentClustering.v2", "date": 10**30,
         "scores": {"test": [{"hf_subset": "default", "v_measure": 10**400, "main_score": float("nan")}]}}))
    (folder / "model_meta.json").write_text(json.dumps({"name": "org/hostile", "n_parameters": 10**400,
                                                        "embed_dim": 2**40, "max_tokens": -5}))
    result = _cli("import-mteb", str(checkout), "--store", store)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"skipped {folder / 'PatentClassification.json'}: nested too deeply to be an mteb result" in result.stderr
    assert "46 of 47 result files imported; 1 skipped" in result.stdout
    hostile = Store(store).all_scores().query("model == 'org/hostile'")
    assert hostile[["metric", "value", "evaluated_at"]].isna().values.tolist() == [[False, True, True]]
    model = Store(store).models().set_index("model").loc["org/hostile"]
    assert pd.isna(model["params_m"]) and pd.isna(model["embedding_dim"]) and pd.isna(model["max_tokens"])
