"""The state store: binaries, step runs, history, RC flags, kept binaries, concurrency, schema versioning."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from publish.errors import InputError
from publish.state import (
    DATABASE_NAME,
    SCHEMA_VERSION,
    StateError,
    StateStore,
    resolve_state_dir,
)


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def binary_info(version: str = "1.2.3", build: str = "45", bundle_id: str = "com.example.app", **extra) -> dict:
    info = {
        "fingerprint": hashlib.sha256(f"{bundle_id}/{version}/{build}".encode()).hexdigest(),
        "bundle_id": bundle_id,
        "version": version,
        "build_number": build,
        "display_name": "Example",
        "file_size": 1234,
        "icon_names": ["AppIcon60x60", "AppIcon76x76"],
        "platform": "IOS",
    }
    info.update(extra)
    return info


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock):
    with StateStore.open(tmp_path / "state", clock=clock) as opened:
        yield opened


# -- state directory -----------------------------------------------------------------------------------------


def test_state_dir_precedence_flag_env_flow_default(tmp_path: Path) -> None:
    env = {"APPSTORE_PUBLISH_STATE_DIR": "from-env"}
    assert resolve_state_dir("from-flag", env, "from-flow", tmp_path) == tmp_path / "from-flag"
    assert resolve_state_dir(None, env, "from-flow", tmp_path) == tmp_path / "from-env"
    assert resolve_state_dir(None, {}, "from-flow", tmp_path) == tmp_path / "from-flow"
    assert resolve_state_dir(None, {}, None, tmp_path) == tmp_path / ".appstore-publish"
    assert resolve_state_dir(None, {"APPSTORE_PUBLISH_STATE_DIR": ""}, None, tmp_path) == tmp_path / ".appstore-publish"
    assert resolve_state_dir("/abs/dir", {}, None, tmp_path) == Path("/abs/dir")
    flows = tmp_path / "flows"
    assert resolve_state_dir(None, {}, "st", tmp_path, flow_base=flows) == flows / "st"


def test_open_creates_versioned_wal_database(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "new" / "state") as store:
        assert store.database_path.is_file()
    db = sqlite3.connect(tmp_path / "new" / "state" / DATABASE_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (tmp_path / "new" / "state" / ".gitignore").read_text().strip().endswith("*")
    db.close()
    # Reopening does not migrate again nor lose anything.
    with StateStore.open(tmp_path / "new" / "state") as store:
        store.record_binary(binary_info())
    with StateStore.open(tmp_path / "new" / "state") as store:
        assert len(store.find_binaries()) == 1


def test_newer_schema_is_refused_with_upgrade_hint(tmp_path: Path) -> None:
    StateStore.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / DATABASE_NAME)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(InputError, match="newer than this appstore-publish") as excinfo:
        StateStore.open(tmp_path)
    assert "upgrade" in str(excinfo.value)


def test_garbage_database_and_file_as_dir_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / DATABASE_NAME).write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(InputError, match="not a usable appstore-publish state database"):
        StateStore.open(tmp_path)
    a_file = tmp_path / "plain-file"
    a_file.write_text("x")
    with pytest.raises(InputError, match="is a file, not a directory"):
        StateStore.open(a_file)


# -- binaries ------------------------------------------------------------------------------------------------


def test_record_binary_upserts_and_tracks_seen_times(store: StateStore, clock: FakeClock) -> None:
    info = binary_info()
    store.record_binary(info)
    clock.advance(60)
    store.record_binary({**info, "display_name": "Renamed"})
    got = store.get_binary(info["fingerprint"])
    assert got is not None
    assert got["display_name"] == "Renamed"
    assert got["icon_name"] == "AppIcon60x60"
    assert got["info"]["platform"] == "IOS"
    assert got["first_seen"] == "2023-11-14T22:13:20.000Z"
    assert got["last_seen"] == "2023-11-14T22:14:20.000Z"
    assert got["rc"] is False and got["kept_sha256"] is None and got["remote"] == {}
    assert store.get_binary("0" * 64) is None


def test_find_binaries_filters_and_orders_newest_first(store: StateStore, clock: FakeClock) -> None:
    for version, build in (("1.0", "1"), ("1.0", "2"), ("1.1", "3")):
        store.record_binary(binary_info(version, build))
        clock.advance(1)
    store.record_binary(binary_info("9.9", "9", bundle_id="com.example.other"))
    assert [b["build_number"] for b in store.find_binaries(bundle_id="com.example.app")] == ["3", "2", "1"]
    assert [b["build_number"] for b in store.find_binaries(version="1.0")] == ["2", "1"]
    assert [b["version"] for b in store.find_binaries(version="1.0", build_number="1")] == ["1.0"]
    assert len(store.find_binaries()) == 4


def test_update_remote_merges_fields(store: StateStore) -> None:
    info = binary_info()
    store.record_binary(info)
    store.update_remote(info["fingerprint"], app_id="A1", build_id="B1")
    store.update_remote(info["fingerprint"], processing_state="VALID", build_id="B2")
    assert store.get_binary(info["fingerprint"])["remote"] == {
        "app_id": "A1",
        "build_id": "B2",
        "processing_state": "VALID",
    }
    with pytest.raises(StateError, match="no binary with fingerprint"):
        store.update_remote("f" * 64, app_id="A1")


# -- step runs and history -----------------------------------------------------------------------------------


def run_step(store: StateStore, clock: FakeClock, fingerprint: str, index: int, name: str, status: str, **kw) -> int:
    run_id = store.start_step_run(
        fingerprint=fingerprint,
        bundle_id="com.example.app",
        flow_hash="flowhash",
        step_index=index,
        step_name=name,
        settings_hash=kw.pop("settings_hash", "s1"),
    )
    clock.advance(kw.pop("takes", 2.5))
    store.finish_step_run(run_id, status=status, **kw)
    return run_id


def test_step_runs_are_recorded_with_duration_and_ids(store: StateStore, clock: FakeClock) -> None:
    info = binary_info()
    store.record_binary(info)
    fp = info["fingerprint"]
    run_step(store, clock, fp, 0, "send_to_testflight", "succeeded", asc_ids={"build_id": "B1"}, outputs={"x": 1})
    clock.advance(10)
    run_step(store, clock, fp, 1, "send_to_app_store", "failed", error="Apple said no", takes=4)
    rows = store.history()
    assert [r["step_name"] for r in rows] == ["send_to_app_store", "send_to_testflight"]
    failed, ok = rows
    assert failed["status"] == "failed" and failed["error"] == "Apple said no" and failed["duration_s"] == 4
    assert ok["asc_ids"] == {"build_id": "B1"} and ok["outputs"] == {"x": 1} and ok["duration_s"] == 2.5
    assert ok["version"] == "1.2.3" and ok["build_number"] == "45" and ok["kind"] == "step"
    assert ok["started_at"] < ok["finished_at"]
    with pytest.raises(ValueError):
        store.finish_step_run(failed["id"], status="done")
    with pytest.raises(StateError):
        store.finish_step_run(99999, status="failed")


def test_running_step_shows_as_running(store: StateStore) -> None:
    info = binary_info()
    store.record_binary(info)
    store.start_step_run(
        fingerprint=info["fingerprint"], bundle_id="com.example.app", flow_hash="f", step_index=0,
        step_name="send_to_testflight", settings_hash="s",
    )
    (row,) = store.history()
    assert row["status"] == "running" and row["finished_at"] is None and row["duration_s"] is None


def test_find_completed_step_matches_settings_and_success(store: StateStore, clock: FakeClock) -> None:
    info = binary_info()
    store.record_binary(info)
    fp = info["fingerprint"]
    query = dict(fingerprint=fp, step_index=0, step_name="send_to_testflight", settings_hash="s1")
    assert store.find_completed_step(**query) is None
    run_step(store, clock, fp, 0, "send_to_testflight", "failed", error="boom")
    assert store.find_completed_step(**query) is None
    done = run_step(store, clock, fp, 0, "send_to_testflight", "succeeded", asc_ids={"build_id": "B"})
    found = store.find_completed_step(**query)
    assert found is not None and found["id"] == done and found["asc_ids"] == {"build_id": "B"}
    assert store.find_completed_step(**{**query, "settings_hash": "s2"}) is None
    assert store.find_completed_step(**{**query, "step_index": 1}) is None
    # After a delete the binary starts afresh: nothing is skipped on stale runs.
    store.delete_binary(fp)
    store.record_binary(info)
    assert store.find_completed_step(**query) is None


def test_history_filters_limit_and_events(store: StateStore, clock: FakeClock) -> None:
    a, b = binary_info("1.0", "1"), binary_info("2.0", "7")
    store.record_binary(a)
    store.record_binary(b)
    run_step(store, clock, a["fingerprint"], 0, "send_to_testflight", "succeeded")
    clock.advance(1)
    store.set_rc(b["fingerprint"], True, note="ship it")
    clock.advance(1)
    store.record_event(kind="download", fingerprint=b["fingerprint"], detail={"out": "x.ipa"})
    rows = store.history()
    assert [r["kind"] for r in rows] == ["download", "rc", "step"]
    assert rows[1]["detail"] == {"note": "ship it"} and rows[1]["version"] == "2.0"
    assert [r["kind"] for r in store.history(version="2.0")] == ["download", "rc"]
    assert [r["kind"] for r in store.history(version="2.0", build_number="1")] == []
    assert [r["kind"] for r in store.history(limit=1)] == ["download"]
    assert [r["kind"] for r in store.history(bundle_id="com.example.nope")] == []
    with pytest.raises(ValueError):
        store.record_event(kind="bogus", fingerprint=a["fingerprint"])
    with pytest.raises(StateError):
        store.record_event(kind="download", fingerprint="0" * 64)


def test_rc_flag_round_trip(store: StateStore) -> None:
    info = binary_info()
    store.record_binary(info)
    fp = info["fingerprint"]
    assert store.is_rc(fp) is False
    store.set_rc(fp, True, note="candidate")
    assert store.is_rc(fp) is True
    assert store.get_binary(fp)["rc_note"] == "candidate"
    store.set_rc(fp, False)
    assert store.is_rc(fp) is False and store.get_binary(fp)["rc_note"] is None
    assert [r["kind"] for r in store.history()] == ["unrc", "rc"]
    assert store.is_rc("0" * 64) is False


# -- kept binaries -------------------------------------------------------------------------------------------


def test_keep_and_export_binary_verifies_checksum(store: StateStore, tmp_path: Path) -> None:
    info = binary_info()
    store.record_binary(info)
    fp = info["fingerprint"]
    assert store.artifact_path(fp) is None
    ipa = tmp_path / "App.ipa"
    payload = bytes(range(256)) * 9000  # > one copy chunk
    ipa.write_bytes(payload)
    sha = store.keep_binary(fp, ipa)
    assert sha == hashlib.sha256(payload).hexdigest()
    kept = store.artifact_path(fp)
    assert kept == store.state_dir / "artifacts" / sha[:2] / f"{sha}.ipa"
    assert kept.read_bytes() == payload
    assert store.get_binary(fp)["kept_sha256"] == sha
    assert not list(store.artifacts_dir.glob(".incoming-*"))

    out = tmp_path / "out.ipa"
    assert store.export_binary(fp, out) == sha
    assert out.read_bytes() == payload

    # Corrupt the kept file: the export refuses and writes nothing.
    kept.write_bytes(payload[:-1] + b"\x00")
    corrupt_out = tmp_path / "corrupt.ipa"
    with pytest.raises(StateError, match="is corrupt") as excinfo:
        store.export_binary(fp, corrupt_out)
    assert sha in str(excinfo.value)
    assert not corrupt_out.exists()
    assert not list(tmp_path.glob(".corrupt.ipa.*"))

    kept.unlink()
    with pytest.raises(StateError, match="missing from the artifact store"):
        store.export_binary(fp, corrupt_out)


def test_keep_binary_of_unknown_fingerprint_copies_nothing(store: StateStore, tmp_path: Path) -> None:
    ipa = tmp_path / "x.ipa"
    ipa.write_bytes(b"data")
    with pytest.raises(StateError):
        store.keep_binary("0" * 64, ipa)
    assert not store.artifacts_dir.exists() or not any(store.artifacts_dir.rglob("*.ipa"))


def test_delete_binary_forgets_version_and_kept_file_but_keeps_history(
    store: StateStore, clock: FakeClock, tmp_path: Path
) -> None:
    a, b = binary_info("1.0", "1"), binary_info("1.0", "2")
    store.record_binary(a)
    store.record_binary(b)
    ipa = tmp_path / "same.ipa"
    ipa.write_bytes(b"identical bytes")
    sha = store.keep_binary(a["fingerprint"], ipa)
    store.keep_binary(b["fingerprint"], ipa)  # same content, same address
    store.set_rc(a["fingerprint"], True)
    run_step(store, clock, a["fingerprint"], 0, "send_to_testflight", "succeeded")

    store.delete_binary(a["fingerprint"])
    assert store.get_binary(a["fingerprint"]) is None
    assert store.get_binary(a["fingerprint"], include_deleted=True)["deleted"] is True
    assert [x["build_number"] for x in store.find_binaries()] == ["2"]
    assert store.artifact_path(a["fingerprint"]) is None
    assert store.is_rc(a["fingerprint"]) is False
    # b still references the shared file.
    assert store.artifact_path(b["fingerprint"]).is_file()
    store.delete_binary(b["fingerprint"])
    assert not (store.artifacts_dir / sha[:2] / f"{sha}.ipa").exists()
    kinds = [r["kind"] for r in store.history(version="1.0", build_number="1")]
    assert kinds == ["delete", "step", "rc"]

    # Seen again: it comes back as new.
    clock.advance(100)
    store.record_binary(a)
    again = store.get_binary(a["fingerprint"])
    assert again["deleted"] is False and again["rc"] is False and again["kept_sha256"] is None


# -- concurrency ---------------------------------------------------------------------------------------------

ROWS_PER_WRITER = 200


def _write_history(state_dir: str, fingerprint: str, writer: int, start: multiprocessing.synchronize.Barrier) -> None:
    with StateStore.open(Path(state_dir)) as store:
        start.wait(30)  # both writers open, then write at the same moment
        for i in range(ROWS_PER_WRITER):
            run_id = store.start_step_run(
                fingerprint=fingerprint, bundle_id="com.example.app", flow_hash=f"w{writer}",
                step_index=i, step_name="send_to_testflight", settings_hash="s",
            )
            store.finish_step_run(run_id, status="succeeded", asc_ids={"writer": writer, "i": i})
            time.sleep(0.001)  # a step's work between writes, so the two writers interleave as real runs do
            if i % 50 == 0:
                store.update_remote(fingerprint, **{f"w{writer}_{i}": i})


def test_two_processes_writing_history_lose_no_rows(tmp_path: Path) -> None:
    info = binary_info()
    with StateStore.open(tmp_path) as store:
        store.record_binary(info)
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(2)
    writers = [
        ctx.Process(target=_write_history, args=(str(tmp_path), info["fingerprint"], n, start)) for n in (1, 2)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    with StateStore.open(tmp_path) as store:
        rows = store.history()
        assert len(rows) == 2 * ROWS_PER_WRITER
        assert all(r["status"] == "succeeded" for r in rows)
        assert len({r["id"] for r in rows}) == 2 * ROWS_PER_WRITER
        # The writes really did interleave (otherwise this test would prove nothing about locking).
        order = [r["asc_ids"]["writer"] for r in sorted(rows, key=lambda r: r["id"])]
        assert sum(1 for x, y in zip(order, order[1:], strict=False) if x != y) > 20
        for writer in (1, 2):
            seen = sorted(r["asc_ids"]["i"] for r in rows if r["asc_ids"]["writer"] == writer)
            assert seen == list(range(ROWS_PER_WRITER))
        # Read-modify-write of the remote dict lost no field either.
        remote = store.get_binary(info["fingerprint"])["remote"]
        assert len(remote) == 2 * (ROWS_PER_WRITER // 50)


def test_threads_share_one_store(store: StateStore) -> None:
    info = binary_info()
    store.record_binary(info)

    def work(n: int) -> None:
        for i in range(25):
            store.record_event(kind="download", fingerprint=info["fingerprint"], detail={"t": n, "i": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.history()) == 100


def test_a_writer_holding_the_lock_too_long_is_a_clear_error(tmp_path: Path) -> None:
    info = binary_info()
    with StateStore.open(tmp_path) as store:
        store.record_binary(info)
    other = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        with StateStore.open(tmp_path, busy_timeout=0.05) as store:  # waited out twice: opening, then the write
            assert store.get_binary(info["fingerprint"]) is not None  # WAL: reads go on
            with pytest.raises(StateError, match="stayed locked for") as excinfo:
                store.set_rc(info["fingerprint"], True)
            assert "another appstore-publish process" in str(excinfo.value)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with StateStore.open(tmp_path) as store:
        assert store.is_rc(info["fingerprint"]) is False
        store.set_rc(info["fingerprint"], True)  # usable again once the other writer is done
        assert store.is_rc(info["fingerprint"]) is True
