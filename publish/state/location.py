"""Where the state directory is and what it holds; the one place that creates it.

Layout of a state directory (default `.appstore-publish/` in the working directory):

    state.sqlite3                       binaries seen, their App Store Connect ids, RC flags, history
    artifacts/<sha256[:2]>/<sha256>.ipa kept binaries (profiles with `keep_binaries: true`), content-addressed
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from publish.errors import InputError
from publish.local_paths import checked_path

STATE_DIR_ENV = "APPSTORE_PUBLISH_STATE_DIR"
DEFAULT_STATE_DIR = ".appstore-publish"
DATABASE_NAME = "state.sqlite3"
ARTIFACTS_DIR = "artifacts"


def resolve_state_dir(
    flag: str | None,
    env: Mapping[str, str],
    flow_state_dir: str | None,
    base: Path,
    *,
    flow_base: Path | None = None,
) -> Path:
    """The state directory: `--state-dir` > $APPSTORE_PUBLISH_STATE_DIR > the flow's `state_dir` > `.appstore-publish/`.

    Relative paths are taken from `base` (the working directory); a relative `state_dir` in a flow file is taken
    from `flow_base` (the flow file's directory) when given, so the flow means the same wherever it is run from.
    """
    if flag:
        chosen, root, source = flag, base, "--state-dir"
    elif env.get(STATE_DIR_ENV):
        chosen, root, source = env[STATE_DIR_ENV], base, f"${STATE_DIR_ENV}"
    elif flow_state_dir:
        chosen, root, source = flow_state_dir, flow_base or base, "the flow's state_dir"
    else:
        chosen, root, source = DEFAULT_STATE_DIR, base, "the state directory"
    # A NUL byte or an over-long path would fail deep inside sqlite3 or os with a bare ValueError/OSError.
    path = checked_path(str(chosen), source).expanduser()
    return path if path.is_absolute() else Path(root) / path


def create_state_dir(state_dir: Path) -> None:
    """Make sure `state_dir` is a directory, creating it (with a `.gitignore`) when it does not exist yet."""
    if state_dir.exists() and not state_dir.is_dir():
        raise InputError(
            f"state directory {state_dir} is a file, not a directory",
            hint="point --state-dir (or APPSTORE_PUBLISH_STATE_DIR, or the flow's state_dir) at a directory",
        )
    created = not state_dir.exists()
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the state directory {state_dir}: {exc.strerror}",
            hint="choose a writable place with --state-dir or APPSTORE_PUBLISH_STATE_DIR",
        ) from exc
    if created:
        # The state holds ids and kept binaries, not source: keep it out of commits by default.
        (state_dir / ".gitignore").write_text("# created by appstore-publish\n*\n")
