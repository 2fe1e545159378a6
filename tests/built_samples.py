"""Sample IPAs and packages built once a module for each distinct set of arguments, handed out as copies.

The sample builders are deterministic, and several tests of a module use the same IPA or .pkg: a copy (~0.5 ms
for 1 MB) costs a fraction of a build (6-9 ms CPU once certificates and profiles are made: compressing the
executables' random filler, signing a package's table of contents). Each use gets its own file, so a test that
rebuilds or changes it changes nothing for the next one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


class BuiltSamples:
    def __init__(self, folder: Path, build: Callable[..., str | os.PathLike[str]], suffix: str) -> None:
        self.folder = folder
        self.build = build
        self.suffix = suffix
        self.built: dict[str, Path] = {}

    def copy(self, path: Path, **arguments: Any) -> Path:
        """`path`, holding what `build(path, **arguments)` would write there."""
        key = repr(sorted(arguments.items()))  # every argument the builders take has a faithful repr
        if key not in self.built:
            self.built[key] = Path(self.build(self.folder / f"{len(self.built)}{self.suffix}", **arguments))
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.built[key], path)
        return path
