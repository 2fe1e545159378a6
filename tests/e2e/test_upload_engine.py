"""The upload engine end to end, over real loopback HTTP against the App Store Connect simulator."""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from built_samples import BuiltSamples
from publish.asc import ApiKey, AppStoreConnect
from publish.errors import InputError, RemoteError
from publish.sandbox.faults import Faults
from publish.sandbox.sample_ipa import build_ipa
from publish.sandbox.server import SandboxServer
from publish.upload.engine import BuildUploader, check_build_number, find_app_or_fail, find_existing_build
from publish.upload.journal import UploadJournal, UploadKey
from publish.upload.progress import ProgressReporter

BUNDLE_ID = "com.example.upload"
KEY_ID = "UPLOADKEY1"
ISSUER_ID = "69a6de70-03db-47e3-e053-5b8c7c11a4d1"
PART_SIZE = 64 * 1024
IPA_SIZE = 1_000_000


class SimulatedCrash(BaseException):
    """Stands for the process dying (SIGKILL, a cancelled CI job) in the middle of the parts."""


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


@pytest.fixture(scope="module")
def api_key() -> tuple[ApiKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return ApiKey(key_id=KEY_ID, issuer_id=ISSUER_ID, private_key_pem=pem), public


@pytest.fixture(scope="module")
def built_ipas(tmp_path_factory: pytest.TempPathFactory) -> BuiltSamples:
    return BuiltSamples(tmp_path_factory.mktemp("upload-ipas"), build_ipa, ".ipa")


class World:
    def __init__(self, tmp_path: Path, api_key: tuple[ApiKey, str], ipas: BuiltSamples, *,
                 clock: FakeClock | None = None) -> None:
        key, public = api_key
        self.tmp_path = tmp_path
        self.ipas = ipas
        self.clock = clock
        kwargs: dict[str, Any] = {"processing_polls": 1, "part_size": PART_SIZE}
        if clock is not None:
            kwargs["clock"] = clock
        self.server = SandboxServer(**kwargs)
        self.server.start()
        self.server.register_key(KEY_ID, ISSUER_ID, public)
        self.app_id = self.server.add_app(BUNDLE_ID, "Upload App", sku="UPLOAD")
        self.client = AppStoreConnect(key, base_url=self.server.url, sleep=lambda s: None,
                                      **({"clock": clock} if clock is not None else {}))
        self.state_dir = tmp_path / "state"
        self.puts: list[tuple[str, int | None]] = []
        self.puts_lock = threading.Lock()

    def session(self) -> RecordingSession:
        return RecordingSession(self)

    def ipa(self, build_number: str = "2", *, version: str = "1.0.0", bundle_id: str = BUNDLE_ID,
            size: int | None = IPA_SIZE, name: str | None = None) -> Path:
        path = self.tmp_path / (name or f"App-{version}-{build_number}.ipa")
        return self.ipas.copy(path, bundle_id=bundle_id, version=version, build_number=build_number,
                              display_name="Upload App", pad_to=size)

    def uploader(self, **kwargs: Any) -> BuildUploader:
        kwargs.setdefault("concurrency", 4)
        kwargs.setdefault("poll_interval", 0.0)
        kwargs.setdefault("sleep", lambda s: None)
        kwargs.setdefault("part_session_factory", self.session)
        if self.clock is not None:
            kwargs.setdefault("wall_clock", self.clock)
        return BuildUploader(self.client, state_dir=self.state_dir, **kwargs)

    def upload(self, ipa: Path, build_number: str = "2", *, version: str = "1.0.0", **kwargs: Any) -> Any:
        wait = kwargs.pop("wait_for_processing", True)
        return self.uploader(**kwargs).upload(ipa, app_id=self.app_id, bundle_id=BUNDLE_ID, version=version,
                                              build_number=build_number, wait_for_processing=wait)

    # -- what the simulator saw ------------------------------------------------------------------------------

    def exchanges(self) -> list[Any]:
        return list(self.server.exchanges)

    def calls(self, method: str, path_prefix: str) -> list[Any]:
        return [e for e in self.exchanges() if _get(e, "method") == method and _get(e, "path").startswith(path_prefix)]

    def part_puts(self, *, ok_only: bool = False) -> list[tuple[str, int | None]]:
        """(URL path, status or None when the connection broke) of every part PUT, as the client saw them (the
        simulator's exchanges record API calls only)."""
        with self.puts_lock:
            puts = list(self.puts)
        return [p for p in puts if p[1] is not None and 200 <= p[1] < 300] if ok_only else puts

    def records(self, type_: str) -> list[Any]:
        return list(self.server.store.all(type_))

    def close(self) -> None:
        self.client.close()
        self.server.stop()


def _get(exchange: Any, name: str) -> Any:
    return exchange[name] if isinstance(exchange, dict) else getattr(exchange, name)


@pytest.fixture
def world(tmp_path: Path, api_key: tuple[ApiKey, str], built_ipas: BuiltSamples) -> Iterator[World]:
    w = World(tmp_path, api_key, built_ipas)
    yield w
    w.close()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _parts(size: int) -> int:
    return math.ceil(size / PART_SIZE)


class RecordingSession(requests.Session):
    """A real part session that notes each PUT's path and status in the world. At `send`: every part goes out
    through it (publish/asc/wire.py `send_prepared` prepares the request and hands it to `Session.send`)."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        path = urlsplit(request.url).path
        try:
            response = super().send(request, **kwargs)
        except requests.RequestException:
            with self.world.puts_lock:
                self.world.puts.append((path, None))
            raise
        with self.world.puts_lock:
            self.world.puts.append((path, response.status_code))
        return response


class CrashingSession(RecordingSession):
    """A part session that dies (like the process would) once `after` parts went through."""

    def __init__(self, world: World, after: int) -> None:
        super().__init__(world)
        self.after = after
        self.done = 0
        self.lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        with self.lock:
            if self.done >= self.after:
                raise SimulatedCrash()
        response = super().send(request, **kwargs)
        with self.lock:
            self.done += 1
        return response


# --------------------------------------------------------------------------------------------- happy path


def test_happy_path_uploads_commits_and_waits_for_a_valid_build(world: World) -> None:
    ipa = world.ipa("2")
    stream = io.StringIO()
    result = world.upload(ipa, "2", progress=ProgressReporter(stream, is_tty=False))

    assert result.processing_state == "VALID" and result.build_id and not result.reused
    assert result.md5_hex == _md5(ipa)
    assert result.bytes_sent == ipa.stat().st_size
    assert len(world.calls("POST", "/v1/buildUploads")) == 1
    assert len(world.calls("POST", "/v1/buildUploadFiles")) == 1
    puts = world.part_puts()
    assert len(puts) == _parts(ipa.stat().st_size) and all(status == 200 for _, status in puts)
    [commit] = world.calls("PATCH", "/v1/buildUploadFiles/")
    attributes = _get(commit, "request")["data"]["attributes"]
    assert attributes == {"uploaded": True}  # H.7: no client checksum; ours is kept locally
    [build] = world.records("builds")
    assert build.id == result.build_id
    assert len(world.records("buildUploads")) == 1
    # the journal is gone once the upload is COMPLETE; no presigned URL is left on disk
    assert not list((world.state_dir / "uploads").glob("*.json"))
    lines = stream.getvalue().splitlines()
    assert 2 <= len(lines) <= 25 and lines[-1].startswith("Uploading App-1.0.0-2.ipa: done")


def test_without_waiting_for_processing_returns_the_processing_build(world: World) -> None:
    world.server.processing_polls = 5
    result = world.upload(world.ipa("3"), "3", wait_for_processing=False)
    # Returned as the upload left it: still PROCESSING (an engine that waited anyway would report VALID) ...
    assert result.build_id and result.processing_state == "PROCESSING"
    assert [b.attributes["processingState"] for b in world.records("builds")] == ["PROCESSING"]
    # ... while the same upload waited for comes back processed: the flag is what makes the difference.
    assert world.upload(world.ipa("4"), "4").processing_state == "VALID"


def test_tty_progress_is_one_redrawn_line(world: World) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    world.upload(world.ipa("2"), "2", progress=ProgressReporter(stream))
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.count("\r") >= 2 and "100%" in text


# ------------------------------------------------------------------------------------ refusals before upload


def test_missing_app_says_to_create_it_first(world: World) -> None:
    with pytest.raises(InputError) as caught:
        world.uploader().upload(world.ipa("2", bundle_id="com.example.missing"), app_id=None,
                                bundle_id="com.example.missing", version="1.0.0", build_number="2")
    assert "No app with bundle ID com.example.missing" in caught.value.message
    assert "create the app in App Store Connect first" in caught.value.message
    assert not world.calls("POST", "/v1/")
    assert find_app_or_fail(world.client, BUNDLE_ID).id == world.app_id


def test_build_number_not_higher_fails_before_any_upload_is_created(world: World) -> None:
    world.upload(world.ipa("5", size=None), "5")
    created = len(world.calls("POST", "/v1/buildUploads"))
    for number in ("3", "4.9"):
        with pytest.raises(InputError) as caught:
            world.upload(world.ipa(number, size=None), number)
        assert "highest build number already used" in caught.value.message and ": 5 (" in caught.value.message
        assert "Set CFBundleVersion to 6 or higher" in caught.value.hint
    with pytest.raises(InputError) as caught:  # 5.0 is 5: taken by another file
        world.upload(world.ipa("5.0", size=None), "5.0")
    assert "already exists" in caught.value.message and "e.g. 5.1" in caught.value.hint
    assert len(world.calls("POST", "/v1/buildUploads")) == created
    check_build_number(world.client, world.app_id, "1.0.0", "5.1", "IOS")  # higher is fine
    check_build_number(world.client, world.app_id, "2.0.0", "1", "IOS")  # other versions do not count


def test_non_numeric_build_number_is_an_input_error(world: World) -> None:
    with pytest.raises(InputError, match="period-separated integers"):
        world.upload(world.ipa("2"), "2b")


def test_same_build_again_is_reused_only_when_it_is_the_same_file(world: World) -> None:
    ipa = world.ipa("7", size=None)
    first = world.upload(ipa, "7")
    posts = len(world.calls("POST", "/v1/buildUploads"))
    again = world.upload(ipa, "7")
    assert again.reused and again.build_id == first.build_id and again.bytes_sent == 0
    assert len(world.calls("POST", "/v1/buildUploads")) == posts
    existing = find_existing_build(world.client, world.app_id, "1.0.0", "7")
    assert existing is not None and existing.build is not None and existing.build.id == first.build_id
    other = world.ipa("7", size=300_000, name="Other.ipa")
    with pytest.raises(InputError) as caught:
        world.upload(other, "7")
    assert "already exists" in caught.value.message and "different file" in caught.value.message
    assert "e.g. 8" in caught.value.hint


# --------------------------------------------------------------------------------------- processing failures


def test_bundle_id_mismatch_surfaces_apples_failed_state(world: World) -> None:
    ipa = world.ipa("2", bundle_id="com.example.other")
    with pytest.raises(RemoteError) as caught:
        world.upload(ipa, "2")
    text = str(caught.value)
    assert "FAILED" in text and "ITMS-90054" in text and "com.example.other" in text
    assert not list((world.state_dir / "uploads").glob("*.json"))
    assert not world.records("builds")


# --------------------------------------------------------------------------------------- flaky network


def test_dropped_part_connections_are_retried_to_a_correct_upload(world: World) -> None:
    world.server.faults = Faults(drop_part_rate=0.1, seed=7)
    ipa = world.ipa("2", size=2_000_000)
    result = world.upload(ipa, "2")
    parts = _parts(ipa.stat().st_size)
    assert result.processing_state == "VALID" and result.md5_hex == _md5(ipa)
    assert len(world.part_puts()) > parts  # some were dropped and sent again
    assert len({path for path, _ in world.part_puts(ok_only=True)}) == parts
    assert len(world.records("buildUploads")) == 1 and len(world.records("builds")) == 1


def test_lost_answer_to_the_create_does_not_make_a_second_build_upload(world: World) -> None:
    faults = world.server.faults
    original = world.client._session.send  # type: ignore[attr-defined]  # the client's transport sends through it

    def send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        lose = request.method == "POST" and str(request.url).endswith(("/v1/buildUploads", "/v1/buildUploadFiles"))
        faults.lost_response_rate = 1.0 if lose else 0.0
        try:
            return original(request, **kwargs)
        finally:
            faults.lost_response_rate = 0.0

    world.client._session.send = send  # type: ignore[attr-defined,method-assign]
    result = world.upload(world.ipa("2"), "2")
    assert result.processing_state == "VALID"
    assert len(world.calls("POST", "/v1/buildUploads")) == 1
    assert len(world.records("buildUploads")) == 1 and len(world.records("buildUploadFiles")) == 1


# --------------------------------------------------------------------------------------- resume


def test_crash_during_the_parts_then_rerun_resumes_the_same_upload(world: World) -> None:
    ipa = world.ipa("2", size=1_500_000)
    parts = _parts(ipa.stat().st_size)
    with pytest.raises(SimulatedCrash):
        world.upload(ipa, "2", part_session_factory=lambda: CrashingSession(world, after=9))
    journal = UploadJournal.open(world.state_dir, UploadKey(world.app_id, "1.0.0", "2", "IOS"))
    acknowledged = len(journal.acknowledged)
    assert 1 <= acknowledged <= 9 + 3 and journal.upload_id and not journal.committed
    assert (journal.path.stat().st_mode & 0o777) == 0o600
    puts_before = len(world.part_puts())

    result = world.upload(ipa, "2")
    assert result.processing_state == "VALID" and result.md5_hex == _md5(ipa)
    assert result.upload_id == journal.upload_id
    assert result.bytes_sent == ipa.stat().st_size - sum(
        op["length"] for op in journal.operations if f"{op['offset']}+{op['length']}" in journal.acknowledged)
    assert len(world.part_puts()) - puts_before == parts - acknowledged  # only the missing parts
    assert len(world.calls("POST", "/v1/buildUploads")) == 1
    assert len(world.calls("POST", "/v1/buildUploadFiles")) == 1
    assert len(world.records("buildUploads")) == 1 and len(world.records("builds")) == 1


def test_rerun_without_a_journal_adopts_the_open_build_upload(world: World) -> None:
    ipa = world.ipa("2")
    with pytest.raises(SimulatedCrash):
        world.upload(ipa, "2", part_session_factory=lambda: CrashingSession(world, after=3))
    for journal_file in (world.state_dir / "uploads").glob("*.json"):
        journal_file.unlink()  # e.g. a fresh CI runner without the state directory
    result = world.upload(ipa, "2")
    assert result.processing_state == "VALID"
    assert len(world.calls("POST", "/v1/buildUploads")) == 1
    assert len(world.records("buildUploads")) == 1 and len(world.records("builds")) == 1


def test_rerun_after_the_recorded_upload_was_deleted_starts_afresh(world: World) -> None:
    ipa = world.ipa("2")
    with pytest.raises(SimulatedCrash):
        world.upload(ipa, "2", part_session_factory=lambda: CrashingSession(world, after=3))
    [upload] = world.records("buildUploads")
    world.client.delete_build_upload(upload.id)
    result = world.upload(ipa, "2")
    assert result.processing_state == "VALID" and result.upload_id != upload.id
    assert len(world.records("buildUploads")) == 1 and len(world.records("builds")) == 1


def test_changed_ipa_between_runs_sends_every_part_again(world: World) -> None:
    ipa = world.ipa("2")
    with pytest.raises(SimulatedCrash):
        world.upload(ipa, "2", part_session_factory=lambda: CrashingSession(world, after=5))
    build_ipa(ipa, bundle_id=BUNDLE_ID, version="1.0.0", build_number="2", display_name="Rebuilt",
              pad_to=IPA_SIZE)
    puts_before = len(world.part_puts())
    result = world.upload(ipa, "2")
    assert result.md5_hex == _md5(ipa) and result.processing_state == "VALID"
    assert len(world.part_puts()) - puts_before == _parts(IPA_SIZE)
    assert len(world.records("buildUploads")) == 1


# --------------------------------------------------------------------------------------- expired URLs


@pytest.fixture
def clocked_world(tmp_path: Path, api_key: tuple[ApiKey, str], built_ipas: BuiltSamples) -> Iterator[World]:
    w = World(tmp_path, api_key, built_ipas, clock=FakeClock())
    yield w
    w.close()


def test_presigned_urls_that_expired_between_runs_get_a_fresh_reservation(clocked_world: World) -> None:
    world = clocked_world
    ipa = world.ipa("2")
    with pytest.raises(SimulatedCrash):
        world.upload(ipa, "2", part_session_factory=lambda: CrashingSession(world, after=4))
    world.clock.advance(8 * 24 * 3600)  # type: ignore[union-attr]  # past the URLs' lifetime
    result = world.upload(ipa, "2")
    assert result.processing_state == "VALID" and result.md5_hex == _md5(ipa)
    assert len(world.records("builds")) == 1
    assert len([u for u in world.records("buildUploads")]) == 1


class ExpiringSession(RecordingSession):
    """Moves the simulator's clock past the URLs' lifetime after `after` parts: the rest get 403."""

    def __init__(self, world: World, clock: FakeClock, after: int) -> None:
        super().__init__(world)
        self.clock = clock
        self.after = after
        self.done = 0
        self.lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        with self.lock:
            self.done += 1
            if self.done == self.after:
                self.clock.advance(8 * 24 * 3600)
        return response


def test_presigned_urls_expiring_mid_upload_get_a_fresh_reservation(clocked_world: World) -> None:
    world = clocked_world
    ipa = world.ipa("2")
    server_clock = world.clock
    result = world.uploader(concurrency=2, wall_clock=lambda: 0.0,  # our clock thinks the URLs are fine
                            part_session_factory=lambda: ExpiringSession(world, server_clock, after=3)).upload(  # type: ignore[arg-type]
        ipa, app_id=world.app_id, bundle_id=BUNDLE_ID, version="1.0.0", build_number="2")
    assert result.processing_state == "VALID" and result.md5_hex == _md5(ipa)
    assert any(status == 403 for _, status in world.part_puts())
    assert len(world.records("builds")) == 1


def test_journal_holds_no_api_secret(world: World, api_key: tuple[ApiKey, str]) -> None:
    ipa = world.ipa("2")
    with pytest.raises(SimulatedCrash):
        world.upload(ipa, "2", part_session_factory=lambda: CrashingSession(world, after=2))
    [journal_file] = (world.state_dir / "uploads").glob("*.json")
    text = journal_file.read_text()
    data = json.loads(text)
    assert data["upload_id"] and data["operations"]
    key, _ = api_key
    assert key.private_key_pem.splitlines()[1] not in text and "Bearer" not in text


# --------------------------------------------------------------------------------------- long processing


def test_processing_timeout_says_the_upload_succeeded_and_how_to_check_later(world: World) -> None:
    world.server.processing_polls = 10**6
    clock = FakeClock(0.0)
    uploader = world.uploader(clock=clock, sleep=clock.advance, poll_interval=30.0, processing_timeout=120.0)
    with pytest.raises(RemoteError) as caught:
        uploader.upload(world.ipa("2"), app_id=world.app_id, bundle_id=BUNDLE_ID, version="1.0.0", build_number="2")
    assert "succeeded" in caught.value.message and "2 min" in caught.value.message
    assert "processing_timeout" in caught.value.hint and "TestFlight" in caught.value.hint
    assert len(world.calls("GET", "/v1/buildUploads/")) <= 6  # one poll per interval, not a busy loop


def test_build_processed_as_invalid_is_a_remote_error(world: World) -> None:
    world.server.processing_polls = 3

    def sleep(seconds: float) -> None:
        for build in world.records("builds"):
            build.attributes["processingState"] = "INVALID"

    with pytest.raises(RemoteError, match="as INVALID"):
        world.upload(world.ipa("2"), "2", sleep=sleep)


def _upload_until_killed(key: ApiKey, url: str, state_dir: Path, ipa: Path, app_id: str) -> None:
    """The forked child: a client and an uploader of its own, as a process of its own would make them."""
    client = AppStoreConnect(key, base_url=url)
    BuildUploader(client, state_dir=state_dir, concurrency=2).upload(
        ipa, app_id=app_id, bundle_id=BUNDLE_ID, version="1.0.0", build_number="2")


def test_killed_process_then_rerun_resumes_from_the_journal(world: World, api_key: tuple[ApiKey, str]) -> None:
    """The upload runs in a fork of this process (the client imported already: a fresh interpreter spent ~0.3 s of
    CPU importing it for the same kill), SIGKILLed once three parts are in the journal."""
    import multiprocessing
    import os
    import signal
    import time

    ipa = world.ipa("2")
    parts = _parts(ipa.stat().st_size)
    world.server.faults = Faults(bandwidth_bytes_per_sec=256 * 1024)  # ~0.25 s per part and connection
    key, _ = api_key
    child = multiprocessing.get_context("fork").Process(
        target=_upload_until_killed, args=(key, world.server.url, world.state_dir, ipa, world.app_id))
    child.start()
    key_for_journal = UploadKey(world.app_id, "1.0.0", "2", "IOS")
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and child.exitcode is None:
            if len(UploadJournal.open(world.state_dir, key_for_journal).acknowledged) >= 3:
                break
            time.sleep(0.05)
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    assert child.exitcode == -signal.SIGKILL
    journal = UploadJournal.open(world.state_dir, key_for_journal)
    assert 3 <= len(journal.acknowledged) < parts and not journal.committed

    world.server.faults = Faults()
    result = world.upload(ipa, "2")
    assert result.processing_state == "VALID" and result.md5_hex == _md5(ipa)
    assert result.upload_id == journal.upload_id
    assert len(world.part_puts()) == parts - len(journal.acknowledged)  # only what the journal lacked
    assert len(world.calls("POST", "/v1/buildUploads")) == 1
    assert len(world.records("buildUploads")) == 1 and len(world.records("builds")) == 1


def test_rebuilt_ipa_of_another_size_replaces_the_open_reservation(world: World) -> None:
    ipa = world.ipa("2")
    with pytest.raises(SimulatedCrash):
        world.upload(ipa, "2", part_session_factory=lambda: CrashingSession(world, after=3))
    build_ipa(ipa, bundle_id=BUNDLE_ID, version="1.0.0", build_number="2", display_name="Rebuilt", pad_to=700_000)
    result = world.upload(ipa, "2")
    assert result.processing_state == "VALID" and result.md5_hex == _md5(ipa)
    assert len(world.records("buildUploads")) == 1 and len(world.records("builds")) == 1
