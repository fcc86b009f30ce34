"""Making a file or folder really read-only for the tests' own user, root included.

``chmod a-w`` stops a normal user; root writes through it, so as root the immutable flag
(``chattr +i``) is set as well. Everything is made writable again at the end of the test.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ReadOnly = Callable[[Path], None]


@contextmanager
def read_only_paths() -> Iterator[ReadOnly]:
    """A function that makes a path read-only until the block ends."""
    done: list[tuple[Path, int, bool]] = []

    def make(path: Path) -> None:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        immutable = False
        if os.geteuid() == 0:
            chattr = shutil.which("chattr")
            if chattr is None:
                path.chmod(mode)
                pytest.skip("running as root without chattr: cannot make a path read-only")
            if subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode:
                path.chmod(mode)
                pytest.skip("this file system has no immutable flag: cannot make it read-only")
            immutable = True
        done.append((path, mode, immutable))

    try:
        yield make
    finally:
        for path, mode, immutable in reversed(done):
            if immutable:
                subprocess.run(["chattr", "-i", str(path)], check=True)
            path.chmod(mode)
