"""atomic_write: all-or-nothing replacement, cleanup on failure, permissions."""

from __future__ import annotations

import os
import stat

import pytest

from dlx.io import atomic_write


def test_atomic_write_creates_and_replaces(tmp_path) -> None:
    path = tmp_path / "f.bin"
    with atomic_write(path) as f:
        f.write(b"one")
    assert path.read_bytes() == b"one"
    with atomic_write(str(path)) as f:
        f.write(b"two!")
    assert path.read_bytes() == b"two!"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_atomic_write_text_mode(tmp_path) -> None:
    path = tmp_path / "f.json"
    with atomic_write(path, "w") as f:
        f.write('{"é": 1}\n')
    assert path.read_text(encoding="utf-8") == '{"é": 1}\n'


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_atomic_write_failure_keeps_old_file_and_removes_temp(tmp_path, exc) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"precious")

    def interrupted_write():
        with atomic_write(path) as f:
            f.write(b"half a fi")
            raise exc

    with pytest.raises(exc):
        interrupted_write()
    assert path.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_atomic_write_failure_without_old_file_leaves_nothing(tmp_path) -> None:
    def failing_write():
        with atomic_write(tmp_path / "new.bin") as f:
            f.write(b"x")
            msg = "boom"
            raise ValueError(msg)

    with pytest.raises(ValueError, match="boom"):
        failing_write()
    assert os.listdir(tmp_path) == []


def test_atomic_write_temp_file_is_in_target_directory(tmp_path) -> None:
    path = tmp_path / "f.bin"
    with atomic_write(path) as f:
        f.write(b"x")
        (tmp,) = os.listdir(tmp_path)
        assert tmp.startswith(".f.bin.")
        assert tmp.endswith(".tmp")


def test_atomic_write_keeps_mode_of_replaced_file(tmp_path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    with atomic_write(path) as f:
        f.write(b"new")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_atomic_write_new_file_honours_umask(tmp_path) -> None:
    old = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "f.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "f.bin").st_mode) == 0o640


def test_atomic_write_bad_arguments(tmp_path) -> None:
    with (
        pytest.raises(ValueError, match='`mode` must be "wb" or "w", got \'ab\''),
        atomic_write(tmp_path / "f", "ab"),
    ):
        pass
    with (
        pytest.raises(ValueError, match="`encoding` must be None in binary mode"),
        atomic_write(tmp_path / "f", encoding="utf-8"),
    ):
        pass
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "missing" / "f"):
        pass
    assert os.listdir(tmp_path) == []
