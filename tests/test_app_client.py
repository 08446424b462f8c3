"""The app's API through ``gradio_client``, against ``app.py`` launched on 127.0.0.1 with random CP-VTON+ weights."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from helpers_app import EXAMPLE, shared_app
from PIL import Image

from vton.webapp import FRAME_STAGE_KEYS, PREPROCESS_KEYS, STAGE_KEYS

pytestmark = pytest.mark.slow

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def client():
    server = shared_app()
    return gradio_client.Client(server.url, verbose=False, download_files=True)


def _f(path: Path):
    return gradio_client.handle_file(str(path))


def _tryon(client, person=EXAMPLE["person"], method="cp-vton+"):
    return client.predict(_f(person), _f(EXAMPLE["cloth"]), method, _f(EXAMPLE["pose"]), _f(EXAMPLE["parse"]),
                          _f(EXAMPLE["cloth_mask"]), api_name="/tryon")


def test_tryon_endpoint_returns_every_stage_with_caption_and_time(client):
    out = _tryon(client)
    # status, result, one image per stage, keypoint table, summary JSON, stages zip, dataset zip
    assert len(out) == 2 + len(STAGE_KEYS) + 4
    status, result, *rest = out
    stage_files, (table, summary, stages_zip, dataset_zip) = rest[: len(STAGE_KEYS)], rest[len(STAGE_KEYS):]
    assert status.startswith("**Done** with cp-vton+") and "RANDOM" in status
    assert len(STAGE_KEYS) == 16
    for key, path in zip(STAGE_KEYS, stage_files, strict=True):
        assert path and Path(path).is_file(), key
        size = Image.open(path).size
        if key in FRAME_STAGE_KEYS:
            assert size == (192, 256), (key, size)
    assert Image.open(stage_files[STAGE_KEYS.index("parsing")]).size[1] == 256  # parse map + legend at its right
    assert Image.open(result).size == (192, 256)  # pasted back at the photo's size (the example is 192 × 256)

    rows = {s["key"]: s for s in summary["stages"]}
    assert list(rows) == list(STAGE_KEYS)
    for s in rows.values():
        assert s["title"] and s["caption"] and s["seconds"] >= 0
    assert summary["method"] == "cp-vton+"
    assert summary["sources"]["pose"] == "supplied" and summary["sources"]["parsing"] == "supplied"
    assert len(summary["theta"]) == 50
    assert [r[0] for r in table["data"]][:2] == ["nose", "neck"] and len(table["data"]) == 18

    with zipfile.ZipFile(stages_zip) as zf:
        names = zf.namelist()
    assert "result.json" in names and sum(n.endswith(".png") for n in names) == len(STAGE_KEYS)
    with zipfile.ZipFile(dataset_zip) as zf:
        assert any("pose" in n and n.endswith(".json") for n in zf.namelist())


def test_preprocess_endpoint_returns_the_preprocessing_stages(client):
    out = client.predict(_f(EXAMPLE["person"]), _f(EXAMPLE["cloth"]), _f(EXAMPLE["pose"]), _f(EXAMPLE["parse"]),
                         _f(EXAMPLE["cloth_mask"]), api_name="/preprocess")
    assert len(out) == 1 + len(PREPROCESS_KEYS) + 3
    status, *images, table, summary, dataset_zip = out
    assert "Preprocessing done" in status
    assert [s["key"] for s in summary["stages"]] == list(PREPROCESS_KEYS)
    for key, path in zip(PREPROCESS_KEYS, images, strict=True):
        assert Path(path).is_file(), key
    assert Image.open(images[PREPROCESS_KEYS.index("pose")]).size == (192, 256)
    assert summary["sources"]["cloth_mask"] == "supplied"
    assert zipfile.is_zipfile(dataset_zip)


def test_text_file_renamed_png_gives_a_readable_error(client, tmp_path):
    bad = tmp_path / "not_a_photo.png"
    bad.write_text("this is not an image")
    with pytest.raises(gradio_client.exceptions.AppError) as err:
        _tryon(client, person=bad)
    msg = str(err.value)
    assert "person photo" in msg and "not an image" in msg
    assert "Traceback" not in msg


def test_truncated_png_gives_a_readable_error(client, tmp_path):
    data = EXAMPLE["person"].read_bytes()
    bad = tmp_path / "truncated.png"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(gradio_client.exceptions.AppError) as err:
        _tryon(client, person=bad)
    msg = str(err.value)
    assert "person photo" in msg and ("truncated" in msg or "damaged" in msg)


def test_method_without_weights_says_how_to_add_them(client):
    with pytest.raises(gradio_client.exceptions.AppError) as err:
        _tryon(client, method="cp-vton")  # the test weights folder holds CP-VTON+ only
    msg = str(err.value)
    assert "cp-vton/gmm" in msg and "--weights-dir" in msg


def test_methods_endpoint_lists_both_methods_with_licences(client):
    rows = client.predict(api_name="/methods")
    if isinstance(rows, str):
        rows = json.loads(rows)
    by_id = {r["id"]: r for r in rows}
    assert {"cp-vton", "cp-vton+"} <= set(by_id)
    for r in by_id.values():
        assert "MIT" in r["licence"] and r["paper"] and r["repo"].startswith("https://github.com/")
    assert by_id["cp-vton+"]["ready"] and by_id["cp-vton+"]["synthetic"]
    assert not by_id["cp-vton"]["ready"] and by_id["cp-vton"]["missing"] == ["gmm", "tom"]
    assert "--weights-dir" in by_id["cp-vton"]["how_to"]
