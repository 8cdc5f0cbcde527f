"""The staging folder asks ext4 to put its subfolders in another block group.

On ext4 without a journal (this project's CI machines), creating a file skips every inode
of its group deleted in the last minute, one look-up each: a batch written just after the
previous one was replaced paid up to ten times its file creation. The flag (``chattr +T``)
is set on the run's own hidden folder only; where the file system has no such flag,
nothing changes and the run goes on.
"""

from __future__ import annotations

import array
import fcntl
import os
from pathlib import Path

import pytest

from dotation_docs import outputdir


def _flags(path: Path) -> int | None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, outputdir._GET_FLAGS, flags, True)
        return flags[0]
    except OSError:
        return None
    finally:
        os.close(fd)


def _supports_topdir(folder: Path) -> bool:
    probe = folder / "sonde"
    probe.mkdir()
    outputdir._spread_subfolders(probe)
    flags = _flags(probe)
    probe.rmdir()
    return flags is not None and bool(flags & outputdir._TOPDIR)


def test_the_staging_folder_spreads_its_subfolders_and_nothing_else(tmp_path: Path) -> None:
    output = tmp_path / "sortie"
    output.mkdir()
    if not _supports_topdir(tmp_path):
        pytest.skip("file system without the ext4 « T » flag")
    before = _flags(output)
    with outputdir.Staging(output) as staging:
        assert _flags(staging.path) & outputdir._TOPDIR  # type: ignore[operator]
        assert not _flags(staging.path / "new") & outputdir._TOPDIR  # type: ignore[operator]
        staging.write(b"contenu")
    assert _flags(output) == before  # the agent's folder is never flagged
    assert not any(output.iterdir())


def test_a_file_system_that_refuses_the_flag_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    def refuse(*_args):  # type: ignore[no-untyped-def]
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(outputdir.fcntl, "ioctl", refuse)
    output = tmp_path / "sortie"
    output.mkdir()
    with outputdir.Staging(output) as staging:
        staged = staging.write(b"contenu")
        assert staging.file(staged).read_bytes() == b"contenu"
