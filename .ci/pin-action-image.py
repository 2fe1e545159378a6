"""Point action.yml at a prebuilt image: `python3 .ci/pin-action-image.py ghcr.io/OWNER/REPO:1.2.3`.

The release workflow runs this on the tagged commit, so that `uses: OWNER/REPO@v1.2.3` pulls the image pushed to
GitHub Container Registry instead of building the Dockerfile in every user's job; the default branch, other
branches and forks keep `image: "Dockerfile"` and build from source.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

IMAGE_LINE = re.compile(r'^(  image: )"Dockerfile"$', re.M)
REFERENCE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]{1,128}|@sha256:[0-9a-f]{64})$")


def pin(action_text: str, image: str) -> str:
    if not REFERENCE.match(image):
        raise ValueError(f"not an image reference with a tag or digest: {image!r}")
    pinned, count = IMAGE_LINE.subn(rf'\g<1>"docker://{image}"', action_text)
    if count != 1:
        raise ValueError('action.yml has no `  image: "Dockerfile"` line under runs:')
    return pinned


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: pin-action-image.py IMAGE[:TAG|@DIGEST] [action.yml]", file=sys.stderr)
        return 2
    path = Path(argv[2] if len(argv) > 2 else "action.yml")
    try:
        path.write_text(pin(path.read_text(encoding="utf-8"), argv[1]), encoding="utf-8")
    except (OSError, ValueError) as exc:
        print(f"pin-action-image: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: runs.image is now docker://{argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
