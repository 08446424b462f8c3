"""The app's API through ``gradio_client``, against ``app.py`` launched on 127.0.0.1 with random weights for every
method."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import gradio_client
import pytest
from helpers_app import EXAMPLE, shared_app
from PIL import Image

from vton import methods
from vton.evaluate import metrics as M
from vton.web import galleries, report

pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def client():
    server = shared_app()
    return gradio_client.Client(server.url, verbose=False, download_files=True)


def _f(path: Path):
    return gradio_client.handle_file(str(path))


def _tryon(client, person=EXAMPLE["person"], method="cp-vton+"):
    return client.predict(_f(person), _f(EXAMPLE["cloth"]), method, _f(EXAMPLE["pose"]), _f(EXAMPLE["parse"]),
                          _f(EXAMPLE["cloth_mask"]), api_name="/tryon")


def _gallery(items) -> list[tuple[str, str]]:
    """gradio_client's gallery value as (image path, caption) pairs."""
    out = []
    for it in items:
        if isinstance(it, dict):
            img = it.get("image")
            out.append((img.get("path") if isinstance(img, dict) else img, it.get("caption")))
        else:
            out.append((it[0], it[1]))
    return out


def test_tryon_endpoint_returns_a_method_independent_value(client):
    out = _tryon(client)
    # status, pasted result, gallery of (image, caption) in card order, summary JSON, stages zip, dataset zip
    assert len(out) == 6
    status, result, gallery, summary, stages_zip, dataset_zip = out
    assert status.startswith("**Done** with CP-VTON+") and "RANDOM" in status
    card = methods.card("cp-vton+")
    keys = [s["key"] for s in summary["stages"]]
    assert keys == ["person", "pose", "parsing", "body_mask", "cloth", "cloth_mask", *card.stage_keys]
    items = _gallery(gallery)
    assert len(items) == len(keys)
    for (path, caption), row in zip(items, summary["stages"], strict=True):
        assert path and Path(path).is_file(), row["key"]
        assert Path(path).name == row["file"], (path, row)  # the name survives the client: items are found by it
        assert caption.startswith(row["title"] + " — "), (caption, row)
        size = Image.open(path).size
        if row["key"] not in ("parsing", "pasted"):
            assert size == (192, 256), (row["key"], size)
    assert Image.open(result).size == (192, 256)  # pasted back at the photo's size (the example is 192 × 256)
    assert summary["method"] == "cp-vton+" and summary["random_weights"] is True
    assert summary["networks"]["gmm"]["manifest_key"] == "cp-vton+/gmm"
    assert summary["sources"]["pose"] == "supplied" and summary["sources"]["parsing"] == "supplied"
    assert len(summary["data"]["theta"]) == 50 and len(summary["data"]["control_points"]) == 25
    assert len(summary["keypoints"]) == 18

    # the readout finds the try-on and the framed photo by their stage rows, whatever the gallery's order
    path_of = {row["key"]: path for (path, _), row in zip(items, summary["stages"], strict=True)}
    ssim = M.ssim(Image.open(path_of["tryon"]).convert("RGB"), Image.open(path_of["person"]).convert("RGB"))
    assert f"SSIM **{ssim:.4f}**" in report.quality_readout(list(reversed(gallery)), summary, True)

    assert Path(stages_zip).name == "vton_cp-vton__stages.zip"
    with zipfile.ZipFile(stages_zip) as zf:
        names = zf.namelist()
    assert "result.json" in names and sum(n.endswith(".png") for n in names) == len(keys)
    with zipfile.ZipFile(dataset_zip) as zf:
        assert any("pose" in n and n.endswith(".json") for n in zf.namelist())


def test_annotations_a_method_ignores_are_a_visible_warning_in_the_page_and_the_summary(client):
    status, _, _, summary, _, _ = _tryon(client, method="pf-afn")  # pose and parse given; PF-AFN reads neither
    assert summary["warnings"] and all("ignored" in w for w in summary["warnings"])
    for w in summary["warnings"]:
        assert f"⚠ **Warning:** {w}" in status
    assert any("a pose was given" in w for w in summary["warnings"])
    assert any("a parse map was given" in w for w in summary["warnings"])


def test_preprocess_endpoint_returns_the_preprocessing_stages(client):
    out = client.predict(_f(EXAMPLE["person"]), _f(EXAMPLE["cloth"]), "cp-vton", _f(EXAMPLE["pose"]),
                         _f(EXAMPLE["parse"]), _f(EXAMPLE["cloth_mask"]), api_name="/preprocess")
    status, gallery, summary = out
    assert "Preprocessing done" in status
    keys = ["person", "pose", "parsing", "cloth", "cloth_mask"]  # CP-VTON needs no body mask
    assert [s["key"] for s in summary["stages"]] == keys
    items = _gallery(gallery)
    assert len(items) == len(keys) and all(Path(p).is_file() for p, _ in items)
    assert Image.open(items[keys.index("pose")][0]).size == (192, 256)
    assert summary["sources"]["cloth_mask"] == "supplied"


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


def test_compare_endpoint_runs_methods_on_one_preprocessing(client):
    status, gallery, summary = client.predict(
        _f(EXAMPLE["person"]), _f(EXAMPLE["cloth"]), ["cp-vton+", "geometric", "cp-vton"], _f(EXAMPLE["pose"]),
        _f(EXAMPLE["parse"]), _f(EXAMPLE["cloth_mask"]), api_name="/compare")
    assert status.startswith("**Compared** 3 of 3 methods")
    assert summary["methods"] == ["cp-vton+", "geometric", "cp-vton"]
    results = summary["results"]
    # the second and third method reuse the first one's preprocessing: every shared step is cached
    assert set(results["geometric"]["cached_steps"]) >= {"framing", "pose", "parsing", "cloth_mask", "cloth_framing"}
    assert set(results["cp-vton"]["cached_steps"]) >= {"framing", "pose", "parsing", "cloth_mask", "cloth_framing"}
    for m in summary["methods"]:
        keys = [row["key"] for row in results[m]["stages"]]
        assert keys[-2:] == ["tryon", "pasted"], (m, keys)
        for sid, per_method in summary["sections"].items():
            assert per_method[m] == [row["key"] for row in results[m]["stages"] if row["section"] == sid]
    assert summary["sections"]["warp"]["cp-vton"] == summary["sections"]["warp"]["cp-vton+"]
    items = _gallery(gallery)
    assert len(items) == sum(len(results[m]["stages"]) for m in summary["methods"])
    titles = [methods.card(m).title for m in summary["methods"] for _ in results[m]["stages"]]
    for (path, caption), title in zip(items, titles, strict=True):
        assert Path(path).is_file() and caption.startswith(title + " · "), caption
    grouped = galleries.split_compare(list(reversed(gallery)), summary)  # by file name, not by place
    for m in summary["methods"]:
        for sid, per_method in summary["sections"].items():
            names = [row["file"] for row in results[m]["stages"] if row["section"] == sid]
            assert [Path(galleries.item_path(it)).name for it in grouped.get((m, sid), [])] == names, (m, sid)
            assert len(names) == len(per_method[m])
    assert sum(len(v) for v in grouped.values()) == len(items)


def test_compare_reports_a_failing_method_in_its_place(client):
    status, _, summary = client.predict(
        _f(EXAMPLE["person"]), _f(EXAMPLE["cloth"]), ["geometric"], None, None, None, api_name="/compare")
    # no pose JSON and the Hub is offline (HF_HUB_OFFLINE=1): the geometric method cannot estimate a pose
    assert "0 of 1" in status and "pose JSON" in summary["results"]["geometric"]["error"]


def test_unknown_or_malformed_method_is_refused_by_name(client):
    for bad in ("no-such-method", "", "cp-vton+ "):
        with pytest.raises(gradio_client.exceptions.AppError) as err:
            _tryon(client, method=bad)
        assert "unknown method" in str(err.value) or "a string" in str(err.value)


def test_methods_endpoint_lists_every_card_with_weight_status(client):
    rows = client.predict(api_name="/methods")
    if isinstance(rows, str):
        rows = json.loads(rows)
    by_id = {r["id"]: r for r in rows}
    assert list(by_id) == list(methods.ids())
    for r in by_id.values():
        assert r["licence"] and r["paper"] and r["repo"].startswith("https://github.com/")
        assert [s["key"] for s in r["stages"]] == list(methods.card(r["id"]).stage_keys)
        assert r["ready"] and r["how_to"] == ""  # the test folder has random weights for every method
        if r["weights"]:
            assert r["random"] and all(w["status"] == "local" for w in r["weights"].values())
    assert by_id["cp-vton+"]["weights"]["gmm"]["key"] == "cp-vton+/gmm"
    assert "non-commercial" in by_id["cp-vton"]["estimator_licences"]["openpose/body"]
