"""Run as the owner of the workspace: the image starts as root and gives root up before it does any work.

Why: GitHub runs a Docker action as the image's default user and documents that it must be root (the workspace
is mounted from the runner, whose user is 1001 on hosted runners but anything on self-hosted ones; GitLab and
Jenkins mount theirs with yet other owners). A fixed `USER` in the image therefore breaks ("Permission denied"
creating the state directory) wherever the numbers differ, and root leaves root-owned files behind that the job
cannot delete. Taking the UID/GID of the directory we work in solves both: we can write where the job can, and
what we write belongs to the job.

Safety: only ever lowers privileges (root -> the owner); never when not root, never to root; supplementary
groups are dropped first and the GID is set before the UID (after setuid we could no longer change it). The
calls are injectable so that the decision is testable without being root.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field


@dataclass
class Identity:
    """The process calls used to change identity (injectable for tests)."""

    geteuid: Callable[[], int] = os.geteuid
    setgroups: Callable[[list[int]], None] = os.setgroups
    setgid: Callable[[int], None] = os.setgid
    setuid: Callable[[int], None] = os.setuid
    stat: Callable[[str], os.stat_result] = os.stat
    writable: Callable[[str], bool] = field(default=lambda path: os.access(path, os.W_OK))


class OwnerError(Exception):
    """The identity could not be changed; the message says what to do."""


def become_owner_of(directory: str, env: MutableMapping[str, str], identity: Identity | None = None
                    ) -> tuple[int, int] | None:
    """When running as root, switch to the UID/GID owning `directory`; returns them, or None if nothing changed
    (not root, or the directory is root's). HOME is pointed at a writable place if the owner cannot write it."""
    ids = identity or Identity()
    if ids.geteuid() != 0:
        return None
    try:
        info = ids.stat(directory)
    except OSError as exc:
        raise OwnerError(f"cannot read the owner of {directory}: {exc.strerror or exc}") from None
    uid, gid = info.st_uid, info.st_gid
    if uid == 0:
        return None
    try:
        ids.setgroups([])
        ids.setgid(gid)
        ids.setuid(uid)
    except OSError as exc:
        raise OwnerError(f"cannot switch to UID {uid} / GID {gid}, the owner of {directory}: {exc.strerror or exc}; "
                         "run the container as root (GitHub's rule for Docker actions) or as that user") from None
    home = env.get("HOME", "")
    if not home or not ids.writable(home):
        # /root is not ours any more, and some libraries write caches under $HOME: give them a place that is
        # neither root's nor the workspace (which is the job's checkout).
        env["HOME"] = tempfile.mkdtemp(prefix="appstore-publish-home-")
    return uid, gid
