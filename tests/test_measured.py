"""Figures recorded by the benchmark commands: what is written is what the guides read back."""

from __future__ import annotations

from optimcourse import measured


def test_a_record_reads_back_with_its_date_machine_and_command(tmp_path):
    path = measured.record("example", "python -m optimcourse.example --fast", {"seconds": 1.5}, folder=tmp_path)
    assert path == tmp_path / "example.json"
    got = measured.read("example", folder=tmp_path)
    assert got["seconds"] == 1.5 and got["command"] == "python -m optimcourse.example --fast"
    assert got["machine"]["cores"] >= 1 and len(got["date"]) == 10


def test_nothing_recorded_reads_as_none(tmp_path):
    assert measured.read("never-measured", folder=tmp_path) is None


def test_the_guides_figures_are_recorded():
    """The instructors' and maintainers' guides read these; a missing one fails the build."""
    for name in ("grading", "footprint"):
        assert measured.read(name) is not None, f"run the command that records {name!r} with --record"
