"""Rewriting the flags file keeps who may read it: a service running as another user must
still see the rollback the rollout tool just wrote."""

from __future__ import annotations

import os
import stat

import pytest

from flags.file_admin import FileFlagAdmin
from flags.flags_file import write_flags_file


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("original", [0o644, 0o640, 0o664])
async def test_rewriting_the_flags_file_keeps_its_mode(tmp_path, original: int) -> None:
    path = tmp_path / "flags.json"
    write_flags_file(path, [])
    os.chmod(path, original)
    await FileFlagAdmin(path).set_rollout(25)
    assert mode(path) == original


async def test_rewriting_the_flags_file_keeps_its_owner(tmp_path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    path = tmp_path / "flags.json"
    write_flags_file(path, [])
    os.chown(path, 65534, 65534)
    await FileFlagAdmin(path).disable()
    assert (os.stat(path).st_uid, os.stat(path).st_gid) == (65534, 65534)


def test_a_new_flags_file_gets_the_usual_mode_for_new_files(tmp_path) -> None:
    umask = os.umask(0o022)
    try:
        write_flags_file(tmp_path / "new.json", [])
    finally:
        os.umask(umask)
    assert mode(tmp_path / "new.json") == 0o644
