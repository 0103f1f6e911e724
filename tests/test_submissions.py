"""What course-grade takes from a class's folder or zip: one bad file costs only its own student, is named
with the reason, and the others are taken; only an input with nothing gradable in it is refused whole."""

from __future__ import annotations

import json
import os
import signal
import struct
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from optimcourse.course import ASSIGNMENTS
from optimcourse.grading import submissions

CH1, CH2 = ASSIGNMENTS[0], ASSIGNMENTS[1]
NB = f"{CH1.notebook}.ipynb"
EARLY, LATE = (2024, 5, 1, 10, 0, 0), (2024, 5, 2, 9, 30, 0)


def notebook(tag: str) -> bytes:
    """A small JSON notebook that says whose it is, to tell which file was taken."""
    return json.dumps({"cells": [], "metadata": {"tag": tag}, "nbformat": 4, "nbformat_minor": 5}).encode()


def make_zip(
    path: Path,
    members: dict[str, bytes],
    dates: dict[str, tuple[int, ...]] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(dates or {}).get(name, EARLY)), data, compression)
    return path


def make_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def take(path: Path, **kwargs: int) -> tuple[dict[str, bytes], dict[str, submissions.Notice]]:
    """What collect takes for chapter 1: the content by student, and the notices by source."""
    intake = submissions.collect(path, [CH1], **kwargs)
    assert len({s.student for s in intake.submissions}) == len(intake.submissions)
    return {s.student: s.content for s in intake.submissions}, {n.source: n for n in intake.notices}


def data_start(raw: bytes, info: zipfile.ZipInfo) -> int:
    """Where a member's data begins: after its local header, its name and its extra field."""
    name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    return info.header_offset + 30 + name_length + extra_length


def flip_a_byte(archive: Path, member: str) -> None:
    """Damage one byte of a member's data, as a broken download does: its CRC no longer matches."""
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(member)
    raw = bytearray(archive.read_bytes())
    raw[data_start(bytes(raw), info) + info.compress_size // 2] ^= 0xFF
    archive.write_bytes(bytes(raw))


def declare_size(archive: Path, member: str, size: int) -> None:
    """Make the zip's headers claim another uncompressed size for a member than its data has."""
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(member)
    raw = bytearray(archive.read_bytes())
    struct.pack_into("<I", raw, info.header_offset + 22, size)  # the local header's
    at = raw.find(b"PK\x01\x02" + bytes(raw[info.header_offset + 4 : info.header_offset + 6]))
    while raw[at + 46 : at + 46 + len(info.filename.encode())] != info.filename.encode():
        at = raw.find(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", raw, at + 24, size)  # the central directory's, which zipfile reads
    archive.write_bytes(bytes(raw))


@contextmanager
def bytes_read_from_zips() -> Iterator[list[int]]:
    """The number of bytes each read of a zip member returned, while the block runs."""
    sizes: list[int] = []
    original = zipfile.ZipExtFile.read

    def read(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        data = original(self, n)
        sizes.append(len(data))
        return data

    zipfile.ZipExtFile.read = read  # type: ignore[method-assign]  # counting what is read, for this test only
    try:
        yield sizes
    finally:
        zipfile.ZipExtFile.read = original  # type: ignore[method-assign]  # and put back


def test_a_member_with_a_bad_crc_costs_only_its_student_and_is_named(tmp_path):
    archive = make_zip(
        tmp_path / "class.zip",
        {f"ada_1_{NB}": notebook("ada"), f"ben_1_{NB}": notebook("ben"), f"cy_1_{NB}": notebook("cy")},
        compression=zipfile.ZIP_STORED,
    )
    flip_a_byte(archive, f"ben_1_{NB}")
    taken, notices = take(archive)
    assert taken == {"ada": notebook("ada"), "cy": notebook("cy")}
    notice = notices[f"{archive}:ben_1_{NB}"]
    assert notice.ungraded and "damaged in the zip" in notice.reason and "CRC" in notice.reason
    assert "not recorded" in notice.reason and "download the zip again" in notice.reason
    assert len(notices) == 1


def test_a_notebook_over_the_cap_is_refused_unread_and_the_others_taken(tmp_path):
    big = notebook("big") + b" " * 5000
    archive = make_zip(tmp_path / "class.zip", {f"ada_1_{NB}": notebook("ada"), f"ben_1_{NB}": big})
    with bytes_read_from_zips() as sizes:
        taken, notices = take(archive, max_bytes=1000)
    assert taken == {"ada": notebook("ada")}
    assert "larger than the" in notices[f"{archive}:ben_1_{NB}"].reason
    assert "--max-notebook-mb" in notices[f"{archive}:ben_1_{NB}"].reason
    assert sum(sizes) == len(notebook("ada")), "the oversized member was read"
    assert take(archive, max_bytes=len(big))[0] == {"ada": notebook("ada"), "ben": big}


def test_a_member_whose_declared_size_lies_is_read_no_further_than_the_cap(tmp_path):
    # 4 MB that deflate to a few kB, while the zip claims 100 bytes: the size alone would let it through
    bomb = notebook("bomb") + b" " * (4 << 20)
    archive = make_zip(tmp_path / "class.zip", {f"ada_1_{NB}": notebook("ada"), f"ben_1_{NB}": bomb})
    declare_size(archive, f"ben_1_{NB}", 100)
    with bytes_read_from_zips() as sizes:
        taken, notices = take(archive, max_bytes=1 << 20)
    assert taken == {"ada": notebook("ada")}
    assert notices[f"{archive}:ben_1_{NB}"].ungraded
    assert sum(sizes) <= len(notebook("ada")) + (1 << 20) + 1


def test_a_notebook_over_the_cap_in_a_folder_is_refused(tmp_path):
    root = make_folder(
        tmp_path / "in", {f"ada/{CH1.id}/{NB}": notebook("ada"), f"ben/{CH1.id}/{NB}": notebook("ben") + b" " * 5000}
    )
    taken, notices = take(root, max_bytes=1000)
    assert taken == {"ada": notebook("ada")}
    assert "larger than the" in notices[f"{root}/ben/{CH1.id}/{NB}"].reason


def test_student_ids_in_any_script_are_taken(tmp_path):
    nfd = unicodedata.normalize("NFD", "Zoë")  # as a zip made on macOS spells it
    archive = make_zip(
        tmp_path / "class.zip",
        {
            f"José_1_{NB}": notebook("josé"),
            f"{nfd}_2_{NB}": notebook("zoë"),
            f"Łukasz.K-2/{CH1.id}/{NB}": notebook("łukasz"),
        },
    )
    taken, notices = take(archive)
    assert taken == {"José": notebook("josé"), "Zoë": notebook("zoë"), "Łukasz.K-2": notebook("łukasz")}
    assert notices == {}


def test_an_id_that_cannot_be_used_costs_only_that_submission(tmp_path):
    archive = make_zip(
        tmp_path / "class.zip",
        {
            f"ada_1_{NB}": notebook("ada"),
            f"José Pérez_1_{NB}": notebook("space"),
            f"../{CH1.id}/{NB}": notebook("dots"),
            f"_1_{NB}": notebook("empty"),
            f"b\x1b[2Jen_1_{NB}": notebook("escape"),
        },
    )
    taken, notices = take(archive)
    assert taken == {"ada": notebook("ada")}
    assert "'José Pérez' cannot be a student id: it has ' '" in notices[f"{archive}:José Pérez_1_{NB}"].reason
    assert "must begin with a letter or a digit" in notices[f"{archive}:../{CH1.id}/{NB}"].reason
    assert "no student id" in notices[f"{archive}:_1_{NB}"].reason
    escaped = f"{archive}:b\\x1b[2Jen_1_{NB}"  # printed, the name cannot clear the terminal
    assert "cannot be a student id" in notices[escaped].reason
    assert all(n.ungraded and "rename the file or folder" in n.reason for n in notices.values())
    assert len(notices) == 4


def test_of_two_attempts_the_most_recent_is_graded_and_the_other_named(tmp_path):
    resubmitted = f"ada_2_{CH1.notebook}-1.ipynb"  # an LMS numbers a second file of the same name
    members = {
        f"ada_1_{NB}": notebook("ada early"),
        resubmitted: notebook("ada late"),
        f"ben_1_{NB}": notebook("ben one"),
        f"submitted/ben/{CH1.id}/{NB}": notebook("ben two"),
        f"cy_1_{NB}": notebook("cy"),
    }
    archive = make_zip(tmp_path / "class.zip", members, {resubmitted: LATE})  # the rest are EARLY: ben's two tie
    taken, notices = take(archive)
    assert taken == {"ada": notebook("ada late"), "cy": notebook("cy")}
    older = notices[f"{archive}:ada_1_{NB}"]
    assert not older.ungraded and "older attempt" in older.reason
    assert f"{archive}:{resubmitted} is graded instead" in older.reason
    for name in (f"ben_1_{NB}", f"submitted/ben/{CH1.id}/{NB}"):
        assert notices[f"{archive}:{name}"].ungraded and "ambiguous" in notices[f"{archive}:{name}"].reason
    assert len(notices) == 3


def test_in_a_folder_the_most_recently_modified_attempt_is_graded(tmp_path):
    root = make_folder(
        tmp_path / "in", {f"ada/{CH1.id}/{NB}": notebook("ada old"), f"ada_99_{NB}": notebook("ada new")}
    )
    os.utime(root / f"ada/{CH1.id}/{NB}", (1_700_000_000, 1_700_000_000))
    taken, notices = take(root)
    assert taken == {"ada": notebook("ada new")}
    assert list(notices) == [f"{root}/ada/{CH1.id}/{NB}"]


def test_copies_names_are_graded_unless_the_notebook_itself_is_there(tmp_path):
    root = make_folder(
        tmp_path / "in",
        {
            f"ada/{CH1.id}/{CH1.notebook} (1).ipynb": notebook("ada"),
            f"ben/{CH1.id}/{NB}": notebook("ben"),
            f"ben/{CH1.id}/{CH1.notebook}-Copy1.ipynb": notebook("ben copy"),
            f"cy_12_{CH1.notebook}(2).ipynb": notebook("cy"),
            f"dee_12_{CH1.notebook}-Copy2.ipynb": notebook("dee"),
        },
    )
    taken, notices = take(root)
    assert taken == {"ada": notebook("ada"), "ben": notebook("ben"), "cy": notebook("cy"), "dee": notebook("dee")}
    copy = notices.pop(f"{root}/ben/{CH1.id}/{CH1.notebook}-Copy1.ipynb")
    assert not copy.ungraded and "a copy's name" in copy.reason and f"ben/{CH1.id}/{NB} is graded" in copy.reason
    assert notices == {}


def test_a_notebook_that_fits_no_assignment_is_named_and_hidden_files_are_not(tmp_path):
    archive = make_zip(
        tmp_path / "class.zip",
        {
            f"ada_1_{NB}": notebook("ada"),
            f"ada/{CH1.id}/scratch.ipynb": notebook("scratch"),
            "ben_1_manual_update.ipynb": notebook("typo"),
            f"cy/week1/{NB}": notebook("folder"),
            NB: notebook("nobody's"),
            f"__MACOSX/._ada_1_{NB}": b"\x00\x05",
            f"ada/{CH1.id}/.ipynb_checkpoints/{CH1.notebook}-checkpoint.ipynb": notebook("checkpoint"),
            f"ada/{CH2.id}/{CH2.notebook}.ipynb": notebook("another assignment's"),
            "notes.txt": b"not a notebook",
        },
    )
    taken, notices = take(archive)
    assert taken == {"ada": notebook("ada")}
    assert set(notices) == {
        f"{archive}:{name}"
        for name in (f"ada/{CH1.id}/scratch.ipynb", "ben_1_manual_update.ipynb", f"cy/week1/{NB}", NB)
    }
    assert f"grades only {NB}" in notices[f"{archive}:ada/{CH1.id}/scratch.ipynb"].reason
    assert "fits no assignment" in notices[f"{archive}:ben_1_manual_update.ipynb"].reason
    assert all(n.ungraded for n in notices.values())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_links_and_special_files_in_a_folder_are_named_and_never_followed(tmp_path):
    outside = make_folder(tmp_path / "outside", {f"{CH1.id}/{NB}": notebook("outside"), "n.ipynb": notebook("out")})
    root = make_folder(tmp_path / "in", {f"ada/{CH1.id}/{NB}": notebook("ada")})
    (root / "ben" / CH1.id).mkdir(parents=True)
    (root / "ben" / CH1.id / NB).symlink_to(outside / "n.ipynb")
    (root / "cy" / CH1.id).mkdir(parents=True)
    os.mkfifo(root / "cy" / CH1.id / NB)  # opening it would wait for a writer forever
    (root / "dee").symlink_to(outside, target_is_directory=True)
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("collect blocked on the FIFO"))
    signal.alarm(30)
    try:
        taken, notices = take(root)
    finally:
        signal.alarm(0)
    assert taken == {"ada": notebook("ada")}
    assert "symbolic link" in notices[f"{root}/ben/{CH1.id}/{NB}"].reason
    assert "not a regular file" in notices[f"{root}/cy/{CH1.id}/{NB}"].reason
    assert "symbolic link" in notices[f"{root}/dee"].reason
    assert len(notices) == 3 and all(n.ungraded for n in notices.values())


def test_a_zip_with_backslashes_between_folders_is_read_as_folders(tmp_path):
    archive = make_zip(tmp_path / "class.zip", {f"ada\\{CH1.id}\\{NB}": notebook("ada")})
    assert take(archive) == ({"ada": notebook("ada")}, {})


def test_members_the_grader_does_not_unpack_are_named(tmp_path):
    archive = tmp_path / "class.zip"
    make_zip(archive, {f"ada_1_{NB}": notebook("ada")})
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr(f"ben_1_{NB}", notebook("ben"), zipfile.ZIP_BZIP2)
    taken, notices = take(archive)
    assert taken == {"ada": notebook("ada")}
    assert "compressed with method 12" in notices[f"{archive}:ben_1_{NB}"].reason


def test_an_input_with_nothing_gradable_is_refused_with_every_file_named(tmp_path):
    archive = make_zip(
        tmp_path / "class.zip",
        {f"ada_1_{NB}": notebook("ada"), f"ben x_1_{NB}": notebook("ben")},
        compression=zipfile.ZIP_STORED,
    )
    flip_a_byte(archive, f"ada_1_{NB}")
    with pytest.raises(submissions.SubmissionError, match="no notebooks that can be graded") as refused:
        submissions.collect(archive, [CH1])
    assert {n.source for n in refused.value.notices} == {f"{archive}:ada_1_{NB}", f"{archive}:ben x_1_{NB}"}


def test_a_zip_whose_directory_is_damaged_is_refused_whole(tmp_path):
    archive = make_zip(tmp_path / "class.zip", {f"ada_1_{NB}": notebook("ada")})
    raw = bytearray(archive.read_bytes())
    raw[raw.rfind(b"PK\x01\x02") + 2] ^= 0xFF  # the central directory's entry no longer says what it is
    archive.write_bytes(bytes(raw))
    with pytest.raises(submissions.SubmissionError, match="damaged zip archive"):
        submissions.collect(archive, [CH1])


@pytest.mark.parametrize(
    "content, why",
    [
        (b"", "empty"),
        (b"\xff\xfe", "not JSON"),
        (b"[1]", "no list of cells"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"cells": [], "nbformat": 4, "nbformat_minor": 5}', "notebook format"),
    ],
    ids=["empty", "binary", "a-list", "deep", "no-metadata"],
)
def test_a_file_that_is_no_notebook_is_named_as_the_students(content, why):
    sub = submissions.Submission("ada", ASSIGNMENTS[0], content, "ada.ipynb")
    assert why in sub.problem()
