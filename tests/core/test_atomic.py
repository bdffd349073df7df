"""core.atomic: the target is the old file or the complete new one, never a half; no temporary
file is left either way."""
import pytest
from polydiff.core.atomic import atomic_file, atomic_path


def test_a_finished_block_replaces_the_target(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_file(target) as f:
        f.write("new")
        assert target.read_text() == "old"  # not visible before the block ends
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failing_block_keeps_the_old_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_only_write_modes():
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb', got 'a'"), atomic_file("x", "a"):
        pass
