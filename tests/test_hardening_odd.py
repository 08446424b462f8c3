"""Odd but not wrong inputs that used to be accepted without a word: each now a clear refusal or a stated bound.

A dataset zip member inflating beyond any file vton reads (``MAX_MEMBER_BYTES``) and the lowered total
(``MAX_UNZIPPED_BYTES``); ``methods``/``prepare`` with a ``--weights-dir`` that is a file or missing; ``prepare``
finding nothing (exit 1) or an OpenPose ``.pth`` of the wrong digest (exit 2, naming the digests); ``--out ""``
(which meant the working directory); ``dataset --limit`` below 1.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from test_hardening_inputs import _export, _members, _open_zip, _rezip

import vton.unzip as unzip
from vton.cli import main
from vton.errors import InputError
from vton.images import MAX_FILE_BYTES

EX = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def offline(offline_hub):
    return offline_hub


def test_the_member_cap_is_the_largest_file_vton_reads_and_the_total_cap_is_lowered():
    assert unzip.MAX_MEMBER_BYTES == MAX_FILE_BYTES
    assert unzip.MAX_UNZIPPED_BYTES == 2 * 1024**3


@pytest.mark.parametrize("size", [1, 3000, 50_000])
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_member_inflating_beyond_the_member_cap_is_refused_naming_it(tmp_path, monkeypatch, size, compression):
    monkeypatch.setattr(unzip, "MAX_MEMBER_BYTES", 2000)  # stands for 100 MB: the check reads the header only
    files = _members(_export(tmp_path))
    files = {k: v for k, v in files.items() if len(v) <= 2000}  # the genuine members fit the scaled cap
    files["test/image/huge.jpg"] = b"\x00" * (2000 + size)
    with pytest.raises(InputError) as info:
        _open_zip(tmp_path, _rezip(files, compression))
    msg = str(info.value)
    assert "test/image/huge.jpg" in msg and f"{2000 + size:,} bytes" in msg and "MAX_MEMBER_BYTES" in msg


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


@pytest.mark.parametrize("command", ["methods", "prepare"])
@pytest.mark.parametrize("kind", ["a file", "missing", "empty"])
def test_a_weights_dir_that_is_not_a_folder_is_refused(tmp_path, capsys, command, kind):
    path = {"a file": tmp_path / "f.txt", "missing": tmp_path / "nope", "empty": Path("")}[kind]
    if kind == "a file":
        path.write_text("x")
    arg = "" if kind == "empty" else str(path)
    code, _, err = _run(capsys, command, "--weights-dir", arg, *(["--no-download"] if command == "prepare" else []))
    assert code == 2 and "--weights-dir" in err
    assert {"a file": "is a file", "missing": "does not exist", "empty": "is empty"}[kind] in err


def test_prepare_with_nothing_to_convert_fails_and_says_what_it_looked_for(tmp_path, capsys):
    (tmp_path / "w").mkdir()
    code, out, err = _run(capsys, "prepare", "--weights-dir", str(tmp_path / "w"), "--no-download")
    assert code == 1 and "nothing to convert" in err and "openpose/body_pose_model.pth" in err and "Hub" in err


def test_prepare_with_an_openpose_pth_of_the_wrong_digest_exits_2_naming_it(tmp_path, capsys):
    pth = tmp_path / "w" / "openpose" / "body_pose_model.pth"
    pth.parent.mkdir(parents=True)
    pth.write_bytes(b"not the released body model")
    code, out, err = _run(capsys, "prepare", "--weights-dir", str(tmp_path / "w"), "--no-download")
    assert code == 2 and "sha256" in err.lower() and "nothing to convert" not in out + err


@pytest.mark.parametrize("command", ["tryon", "preprocess"])
@pytest.mark.parametrize("out", ["", "   "])
def test_an_empty_out_is_refused_and_nothing_lands_in_the_working_directory(tmp_path, monkeypatch, capsys, command,
                                                                           out):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, command, "--method", "geometric", "--person", str(EX / "geometric_person.png"),
                        "--cloth", str(EX / "geometric_cloth.png"), "--out", out)
    assert code == 2 and "--out is empty" in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("limit", ["-1", "0", "-100000"])
def test_dataset_limit_below_one_is_refused(tmp_path, capsys, limit):
    code, out, err = _run(capsys, "dataset", "--root", str(tmp_path), "--method", "geometric", "--limit", limit,
                          "--out", str(tmp_path / "o"))
    assert code == 2 and f"got {limit}" in err and "try-ons written" not in out
    assert not (tmp_path / "o").exists()

