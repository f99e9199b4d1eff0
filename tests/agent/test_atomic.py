from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from trackpref.agent.atomic import atomic_write_bytes, exclusive_lock, real_path


def test_a_plain_path_is_replaced_privately_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "file.json"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["file.json"]


def test_a_symlink_stays_and_its_target_is_replaced(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "preference.json"
    target.write_bytes(b"old")
    link = tmp_path / "config" / "preference.json"
    link.parent.mkdir()
    link.symlink_to(target)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert not target.is_symlink()
    # The temporary file was made beside the target (a rename cannot cross
    # file systems) and is gone.
    assert [p.name for p in dotfiles.iterdir()] == ["preference.json"]
    assert [p.name for p in link.parent.iterdir()] == ["preference.json"]


def test_a_chain_of_relative_symlinks_is_followed_to_its_end(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "file").write_bytes(b"old")
    (tmp_path / "middle").symlink_to("real/file")
    (tmp_path / "link").symlink_to("middle")
    atomic_write_bytes(tmp_path / "link", b"new")
    assert os.readlink(tmp_path / "link") == "middle"
    assert os.readlink(tmp_path / "middle") == "real/file"
    assert (tmp_path / "real" / "file").read_bytes() == b"new"


def test_a_dangling_symlink_gets_its_target_created(tmp_path: Path) -> None:
    target = tmp_path / "not-yet" / "preference.json"
    link = tmp_path / "preference.json"
    link.symlink_to(target)
    atomic_write_bytes(link, b"first")
    assert link.is_symlink()
    assert target.read_bytes() == b"first"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_symlink_loop_is_refused_and_left_alone(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OSError, match="symbolic links") as err:
        atomic_write_bytes(a, b"x")
    assert err.value.errno == errno.ELOOP
    assert os.readlink(a) == str(b)
    assert os.readlink(b) == str(a)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_real_path_of_a_plain_missing_file_is_itself(tmp_path: Path) -> None:
    assert real_path(tmp_path / "missing.json") == tmp_path / "missing.json"


def test_the_lock_is_a_private_sidecar_beside_the_real_file(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "preference.json"
    link = tmp_path / "preference.json"
    link.symlink_to(target)
    with exclusive_lock(link, timeout=1) as lock:
        assert lock == target.with_name("preference.json.lock")
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert lock.exists(), "kept: removing it would let two writers lock different inodes"
    assert not target.exists()


def test_a_held_lock_makes_another_writer_wait_then_give_up(tmp_path: Path) -> None:
    path = tmp_path / "preference.json"
    # flock belongs to an open file, so a second open in this process contends
    # exactly like another process would.
    with (
        exclusive_lock(path, timeout=1),
        pytest.raises(TimeoutError) as err,
        exclusive_lock(path, timeout=0.05),
    ):
        pytest.fail("took a held lock")
    assert err.value.filename == str(path) + ".lock"
    with exclusive_lock(path, timeout=0.05):
        pass  # released when the holder's block ended


def test_two_links_to_one_file_share_one_lock(tmp_path: Path) -> None:
    target = tmp_path / "preference.json"
    one, two = tmp_path / "one", tmp_path / "two"
    one.symlink_to(target)
    two.symlink_to(target)
    with (
        exclusive_lock(one, timeout=1),
        pytest.raises(TimeoutError),
        exclusive_lock(two, timeout=0.05),
    ):
        pytest.fail("took a lock another link's writer holds")


def test_a_planted_symlink_as_the_lock_file_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "preference.json.lock").symlink_to(elsewhere)
    lock_it = exclusive_lock(tmp_path / "preference.json", timeout=1)
    with pytest.raises(OSError, match="symbolic links") as err, lock_it:
        pytest.fail("took the lock through a planted symbolic link")
    assert err.value.errno == errno.ELOOP
    assert not elsewhere.exists()
