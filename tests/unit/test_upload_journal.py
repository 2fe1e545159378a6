"""The upload journal: atomic, private, resumable, and only trusted for the very same file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from publish.upload.journal import FileIdentity, UploadJournal, UploadKey

KEY = UploadKey(app_id="123", version="1.0", build_number="45", platform="IOS")


def _ipa(tmp_path: Path, content: bytes = b"PK" + b"x" * 200_000) -> Path:
    path = tmp_path / "App.ipa"
    path.write_bytes(content)
    return path


def test_round_trip_and_file_mode(tmp_path: Path) -> None:
    identity = FileIdentity.of(_ipa(tmp_path))
    journal = UploadJournal.open(tmp_path / "state", KEY)
    assert not journal.exists and journal.upload_id is None
    journal.start("up-1", identity)
    journal.record_reservation("file-1", [{"offset": 0, "length": 10, "url": "https://b/1?Signature=s"}])
    journal.acknowledge("0+10")
    journal.flush()
    mode = stat.S_IMODE(os.stat(journal.path).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(journal.path.parent).st_mode) & 0o077 == 0
    again = UploadJournal.open(tmp_path / "state", KEY)
    assert (again.upload_id, again.file_id, again.acknowledged, again.file) == ("up-1", "file-1", {"0+10"}, identity)
    assert not again.committed
    again.mark_committed("ab" * 16)
    assert UploadJournal.open(tmp_path / "state", KEY).md5_hex == "ab" * 16
    # no temporary files left behind
    assert [p.name for p in journal.path.parent.iterdir()] == [journal.path.name]


def test_a_new_reservation_forgets_acknowledged_parts_unless_kept(tmp_path: Path) -> None:
    journal = UploadJournal.open(tmp_path, KEY)
    journal.start("up-1", FileIdentity.of(_ipa(tmp_path)))
    journal.record_reservation("f1", [])
    journal.acknowledge("0+10")
    journal.acknowledge("10+10")
    journal.record_reservation("f1", [], keep_acknowledged=["10+10"])
    assert journal.acknowledged == {"10+10"}
    journal.record_reservation("f2", [])
    assert journal.acknowledged == set()


def test_acknowledgements_are_written_at_most_every_half_second_but_flushed(tmp_path: Path) -> None:
    now = [0.0]
    journal = UploadJournal.open(tmp_path, KEY, clock=lambda: now[0])
    journal.start("up-1", FileIdentity.of(_ipa(tmp_path)))
    journal.acknowledge("0+10")
    now[0] = 0.1
    journal.acknowledge("10+10")  # within the interval: not yet written
    assert json.loads(journal.path.read_text())["acknowledged"] == []
    now[0] = 0.7
    journal.acknowledge("20+10")
    assert json.loads(journal.path.read_text())["acknowledged"] == ["0+10", "10+10", "20+10"]
    journal.acknowledge("30+10")
    journal.flush()
    assert len(json.loads(journal.path.read_text())["acknowledged"]) == 4


def test_a_corrupt_or_foreign_journal_is_ignored(tmp_path: Path) -> None:
    path = UploadJournal.path_for(tmp_path, KEY)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert UploadJournal.open(tmp_path, KEY).upload_id is None
    other = UploadKey(app_id="9", version="1.0", build_number="45", platform="IOS")
    journal = UploadJournal(path, other)
    journal.start("up-x", FileIdentity.of(_ipa(tmp_path)))
    assert UploadJournal.open(tmp_path, KEY).upload_id is None


def test_delete_removes_the_file(tmp_path: Path) -> None:
    journal = UploadJournal.open(tmp_path, KEY)
    journal.start("up-1", FileIdentity.of(_ipa(tmp_path)))
    journal.delete()
    assert not journal.path.exists()
    journal.delete()  # twice is fine


def test_identity_changes_with_content_or_mtime(tmp_path: Path) -> None:
    path = _ipa(tmp_path)
    first = FileIdentity.of(path)
    assert FileIdentity.of(path) == first
    os.utime(path, ns=(1, 1))
    assert FileIdentity.of(path) != first
    path.write_bytes(b"PK" + b"y" * 200_000)
    os.utime(path, ns=(1, 1))
    changed = FileIdentity.of(path)
    assert changed.size == first.size and changed.sample_sha256 != first.sample_sha256


def test_key_file_names_are_distinct_and_safe() -> None:
    a = UploadKey("1", "1.0", "45", "IOS").file_name()
    b = UploadKey("1", "1.0", "46", "IOS").file_name()
    c = UploadKey("1/..", "1.0", "45", "IOS").file_name()
    assert a != b and "/" not in c and a.endswith(".json")
