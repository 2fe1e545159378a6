"""What the upload engine tells the progress bar, over real loopback HTTP against the simulator: a part's bytes
count once its PUT was answered (acknowledge), the bytes handed to the socket are only "in flight" (sending)."""

from __future__ import annotations

import threading
from pathlib import Path

from publish.asc import ApiKey, AppStoreConnect
from publish.sandbox.demo import make_api_key
from publish.sandbox.sample_ipa import build_ipa
from publish.sandbox.server import SandboxServer
from publish.upload.engine import BuildUploader
from publish.upload.progress import ProgressReporter

BUNDLE_ID = "com.example.progress"
KEY_ID = "PROGRESS01"
ISSUER_ID = "69a6de70-03db-47e3-e053-5b8c7c11a4d1"
PART_SIZE = 64 * 1024
IPA_SIZE = 600_000


class RecordingProgress(ProgressReporter):
    """The real reporter, noting every report the engine makes (and the acknowledged count at each)."""

    def __init__(self) -> None:
        super().__init__(_Sink(), is_tty=False, ticker=False)
        self.calls: list[tuple[str, int]] = []
        self.calls_lock = threading.Lock()

    def _note(self, name: str, value: int) -> None:
        with self.calls_lock:
            self.calls.append((name, value))

    def sending(self, delta: int) -> None:
        self._note("sending", delta)
        super().sending(delta)

    def acknowledge(self, length: int) -> None:
        self._note("acknowledge", length)
        super().acknowledge(length)

    def update(self, delta: int) -> None:
        self._note("update", delta)
        super().update(delta)


class _Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def test_the_engine_counts_a_part_only_once_it_is_answered(tmp_path: Path) -> None:
    private_pem, public_pem = make_api_key()
    server = SandboxServer(processing_polls=1, part_size=PART_SIZE)
    server.start()
    try:
        server.register_key(KEY_ID, ISSUER_ID, public_pem)
        app_id = server.add_app(BUNDLE_ID, "Progress App", sku="PROGRESS")
        client = AppStoreConnect(ApiKey(key_id=KEY_ID, issuer_id=ISSUER_ID, private_key_pem=private_pem),
                                 base_url=server.url, sleep=lambda s: None)
        ipa = Path(build_ipa(tmp_path / "App.ipa", bundle_id=BUNDLE_ID, version="1.0.0", build_number="1",
                             display_name="Progress App", pad_to=IPA_SIZE))
        progress = RecordingProgress()
        uploader = BuildUploader(client, state_dir=tmp_path / "state", concurrency=3, poll_interval=0.0,
                                 sleep=lambda s: None, progress=progress)
        uploader.upload(ipa, app_id=app_id, bundle_id=BUNDLE_ID, version="1.0.0", build_number="1")
        client.close()
    finally:
        server.stop()
    size = ipa.stat().st_size
    acknowledged = [value for name, value in progress.calls if name == "acknowledge"]
    assert not [call for call in progress.calls if call[0] == "update"], "socket bytes were counted as done"
    assert sum(acknowledged) == size
    assert len(acknowledged) == -(-size // PART_SIZE)  # one per part, each the part's whole length
    assert sum(value for name, value in progress.calls if name == "sending") == size
    # every part was in flight before it was acknowledged: at each acknowledgement, no more bytes are counted
    # done than were handed to the socket
    handed = done = 0
    for name, value in progress.calls:
        handed += value if name == "sending" else 0
        done += value if name == "acknowledge" else 0
        assert done <= handed
