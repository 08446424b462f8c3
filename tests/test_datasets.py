"""Dataset file formats (vton.formats: OpenPose JSON, parse and mask PNGs) and folders (vton.datasets: VITON folders,
the export zip)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

import vton.datasets
import vton.formats
from vton.annotations import Parsing, Pose
from vton.datasets import VitonFolder, export_dataset_zip
from vton.errors import InputError, PersonNotFoundError
from vton.formats import (
    read_mask_png,
    read_openpose_json,
    read_parse_png,
    write_mask_png,
    write_openpose_json,
    write_parse_png,
)
from vton.labels import ATR, LIP, palette

H, W = 256, 192


def _triples(n: int = 18) -> list[float]:
    rng = np.random.default_rng(1)
    pts = np.concatenate([rng.uniform(2, 180, (n, 2)), rng.uniform(0, 1, (n, 1))], 1)
    pts[n - 1] = 0.0
    return pts.reshape(-1).tolist()


def _parsing(seed: int = 0) -> Parsing:
    rng = np.random.default_rng(seed)
    lab = np.zeros((H, W), np.uint8)
    lab[20:240, 40:150] = rng.integers(0, len(LIP), (220, 110))
    return Parsing(lab)


def _pose() -> Pose:
    return read_openpose_json({"people": [{"pose_keypoints": _triples()}]})


def _png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- OpenPose JSON


@pytest.mark.parametrize("name", ["read_openpose_json", "write_openpose_json", "read_parse_png", "write_parse_png",
                                  "read_mask_png", "write_mask_png"])
def test_datasets_still_exports_the_format_readers(name):
    assert getattr(vton.datasets, name) is getattr(vton.formats, name)


@pytest.mark.parametrize("key", ["pose_keypoints", "pose_keypoints_2d"])
def test_openpose_json_reads_both_key_names(key):
    t = _triples()
    pose = read_openpose_json({"people": [{key: t}]})
    expected = np.asarray(t, np.float32).reshape(18, 3)
    # keypoints are read from JSON decimals into float32 on both sides: exact
    np.testing.assert_array_equal(pose.keypoints, expected[:, :2])
    np.testing.assert_array_equal(pose.scores, expected[:, 2])
    assert pose.size == (192, 256) and pose.people_found == 1
    assert not pose.present[17]


def test_openpose_json_with_a_size_refuses_points_outside_the_photo_and_empty_poses():
    t = np.asarray(_triples(), np.float64).reshape(18, 3)
    assert read_openpose_json({"people": [{"pose_keypoints": t.reshape(-1).tolist()}]}, size=(192, 256)).size == (
        192, 256)
    big = t.copy()
    big[:, :2] *= 4
    with pytest.raises(InputError, match=r"outside the 192 × 256 photo"):
        read_openpose_json({"people": [{"pose_keypoints": big.reshape(-1).tolist()}]}, size=(192, 256))
    assert read_openpose_json({"people": [{"pose_keypoints": big.reshape(-1).tolist()}]}, size=(768, 1024))
    with pytest.raises(InputError, match="0 of 18 keypoints present"):
        read_openpose_json({"people": [{"pose_keypoints": [0.0] * 54}]})
    assert read_openpose_json({"people": [{"pose_keypoints": [0.0] * 54}]}, min_points=0).present.sum() == 0


def test_openpose_json_reads_paths_bytes_text_and_nested_triples(tmp_path):
    t = _triples()
    doc = {"version": 1.3, "people": [{"pose_keypoints_2d": t}, {"pose_keypoints_2d": t}]}
    path = tmp_path / "p_keypoints.json"
    path.write_text(json.dumps(doc))
    nested = {"people": [{"pose_keypoints": np.asarray(t).reshape(18, 3).tolist()}]}
    poses = [read_openpose_json(path), read_openpose_json(str(path)), read_openpose_json(path.read_bytes()),
             read_openpose_json(json.dumps(doc)), read_openpose_json(nested)]
    for p in poses:  # the same decimals parsed to float32 each time: exact
        np.testing.assert_array_equal(p.keypoints, poses[0].keypoints)
    assert poses[0].people_found == 2


def test_openpose_json_body25_is_named():
    with pytest.raises(InputError, match="BODY_25.*COCO-18"):
        read_openpose_json({"people": [{"pose_keypoints_2d": _triples(25)}]})


@pytest.mark.parametrize(
    "doc, error, match",
    [
        (b"not json {", InputError, "not valid JSON"),
        ({"people": []}, PersonNotFoundError, "no people"),
        ({"persons": []}, InputError, "'people'"),
        ({"people": [{"face_keypoints": []}]}, InputError, "pose_keypoints"),
        ({"people": [{"pose_keypoints": _triples(17)}]}, InputError, "17 keypoints"),
        ({"people": [{"pose_keypoints": _triples()[:-1]}]}, InputError, "triples"),
        ({"people": [{"pose_keypoints": ["a"] + _triples()[1:]}]}, InputError, "numbers"),
    ],
)
def test_openpose_json_errors(doc, error, match):
    with pytest.raises(error, match=match):
        read_openpose_json(doc)


def test_openpose_json_error_names_the_file(tmp_path):
    path = tmp_path / "broken_keypoints.json"
    path.write_text("{oops")
    with pytest.raises(InputError, match="broken_keypoints.json"):
        read_openpose_json(path)
    with pytest.raises(InputError, match="does not exist"):
        read_openpose_json(tmp_path / "missing.json")


def test_write_openpose_json_round_trips_and_has_the_authors_key():
    pose = _pose()
    doc = write_openpose_json(pose)
    assert len(doc["people"][0]["pose_keypoints"]) == 54
    assert doc["people"][0]["pose_keypoints"] == doc["people"][0]["pose_keypoints_2d"]
    back = read_openpose_json(json.dumps(doc))
    # float32 → JSON (repr of the float32 value) → float32 round-trips: exact
    np.testing.assert_array_equal(back.keypoints, pose.keypoints)
    np.testing.assert_array_equal(back.scores, pose.scores)


# ---------------------------------------------------------------------------------------------- parse PNGs


def test_parse_png_p_mode_gives_indices_and_l_mode_gives_values():
    parsing = _parsing()
    p_bytes, l_bytes = write_parse_png(parsing, "P"), write_parse_png(parsing, "L")
    p_img, l_img = Image.open(io.BytesIO(p_bytes)), Image.open(io.BytesIO(l_bytes))
    assert p_img.mode == "P" and l_img.mode == "L"
    assert np.array_equal(np.asarray(p_img), parsing.labels)  # what CP-VTON's np.array(...) sees
    assert np.array_equal(np.asarray(l_img.convert("L")), parsing.labels)  # what CP-VTON+'s .convert('L') sees
    assert np.array_equal(np.asarray(p_img.getpalette(), np.uint8).reshape(-1, 3)[:20], palette(20))
    assert np.array_equal(read_parse_png(p_bytes).labels, parsing.labels)
    assert np.array_equal(read_parse_png(l_bytes).labels, parsing.labels)


def test_parse_png_colour_image_maps_back_through_the_palette():
    parsing = _parsing()
    rgb = _png(parsing.colorize())
    assert np.array_equal(read_parse_png(rgb).labels, parsing.labels)
    assert np.array_equal(read_parse_png(parsing.colorize()).labels, parsing.labels)
    grey = np.repeat(parsing.labels[..., None], 3, axis=2)
    assert np.array_equal(read_parse_png(_png(grey)).labels, parsing.labels)


def test_parse_png_unknown_colours_are_an_error():
    img = _parsing().colorize()
    img[0, 0] = (12, 200, 7)
    with pytest.raises(InputError, match=r"not LIP palette colours.*\(12, 200, 7\)"):
        read_parse_png(_png(img))


def test_parse_png_values_out_of_range_name_the_range(tmp_path):
    lab = _parsing().labels.copy()
    lab[0, 0] = 25
    path = tmp_path / "bad.png"
    path.write_bytes(_png(lab, "L"))
    with pytest.raises(InputError, match=r"bad\.png.*0\.\.25.*0\.\.19"):
        read_parse_png(path)
    lab[0, 0] = 18
    assert read_parse_png(_png(lab, "L"), label_set=LIP).labels[0, 0] == 18
    with pytest.raises(InputError, match="ATR"):
        read_parse_png(_png(lab, "L"), label_set=ATR)


def test_parse_png_unreadable_is_an_error():
    with pytest.raises(InputError, match="not an image"):
        read_parse_png(b"nope")


# ---------------------------------------------------------------------------------------------- masks


def test_mask_png_thresholds_at_128_and_writes_255():
    arr = np.zeros((H, W), np.uint8)
    arr[:, 50:] = 127
    arr[:, 100:] = 128
    m = read_mask_png(_png(arr, "L"))
    assert m.dtype == bool and not m[:, :100].any() and m[:, 100:].all()
    assert read_mask_png(_png(arr, "L"), "body mask", threshold=1)[:, 50:].all()
    written = np.asarray(Image.open(io.BytesIO(write_mask_png(m))))
    assert set(np.unique(written).tolist()) == {0, 255}
    assert np.array_equal(read_mask_png(write_mask_png(m)), m)


# ---------------------------------------------------------------------------------------------- folders and zip


def _item_parts(seed: int = 0):
    rng = np.random.default_rng(seed)
    person = Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    cloth = Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    cloth_mask = rng.random((H, W)) > 0.5
    body = rng.random((H, W)) > 0.3
    return person, cloth, cloth_mask, _parsing(seed), _pose(), body


def _export_to(tmp_path, name="look_01", body=True):
    person, cloth, cloth_mask, parsing, pose, body_mask = _item_parts()
    data = export_dataset_zip(None, name, person, cloth, cloth_mask, parsing, pose, body_mask if body else None)
    root = tmp_path / "ds"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(root)
    return root, (person, cloth, cloth_mask, parsing, pose, body_mask)


def test_export_then_viton_folder_reproduces_every_array(tmp_path):
    root, (person, cloth, cloth_mask, parsing, pose, body) = _export_to(tmp_path)
    folder = VitonFolder(root)
    assert len(folder) == 1 and folder.pairs == [("look_01.jpg", "look_01_cloth.jpg")]
    item = folder[0]
    assert np.array_equal(np.asarray(item.person), np.asarray(person))
    assert np.array_equal(np.asarray(item.cloth), np.asarray(cloth))
    assert np.array_equal(item.cloth_mask, cloth_mask)
    assert np.array_equal(item.parsing.labels, parsing.labels)
    assert np.array_equal(item.body_mask, body)
    # float32 keypoints written as JSON and read back: exact round trip
    np.testing.assert_array_equal(item.pose.keypoints, pose.keypoints)
    np.testing.assert_array_equal(item.pose.scores, pose.scores)
    assert (item.person_name, item.cloth_name) == ("look_01.jpg", "look_01_cloth.jpg")
    # both parse folders hold the same labels; the P-mode one is what CP-VTON reads
    old = VitonFolder(root, parse_dir="image-parse")
    assert old.parse_dir == "image-parse" and np.array_equal(old[0].parsing.labels, parsing.labels)
    assert [i.person_name for i in folder] == ["look_01.jpg"]


def test_export_is_in_the_authors_file_formats(tmp_path):
    root, (_, _, cloth_mask, parsing, pose, body) = _export_to(tmp_path)
    t = root / "test"
    assert np.array_equal(np.asarray(Image.open(t / "image-parse" / "look_01.png")), parsing.labels)
    assert Image.open(t / "image-parse" / "look_01.png").mode == "P"
    assert np.array_equal(np.asarray(Image.open(t / "image-parse-new" / "look_01.png").convert("L")), parsing.labels)
    assert np.array_equal(np.asarray(Image.open(t / "cloth-mask" / "look_01_cloth.jpg")) >= 128, cloth_mask)
    assert np.array_equal(np.asarray(Image.open(t / "image-mask" / "look_01.png").convert("L")) > 0, body)
    kp = json.loads((t / "pose" / "look_01_keypoints.json").read_text())["people"][0]["pose_keypoints"]
    np.testing.assert_array_equal(np.asarray(kp, np.float32).reshape(18, 3)[:, :2], pose.keypoints)  # round trip
    assert (root / "test_pairs.txt").read_text() == "look_01.jpg look_01_cloth.jpg\n"
    assert Image.open(t / "image" / "look_01.jpg").format == "PNG"  # lossless data under the .jpg name


def test_export_without_body_mask_writes_parse_foreground(tmp_path):
    root, parts = _export_to(tmp_path, body=False)
    parsing = parts[3]
    assert np.array_equal(VitonFolder(root)[0].body_mask, parsing.labels > 0)


def test_export_to_a_path_and_to_a_file_object(tmp_path):
    person, cloth, cloth_mask, parsing, pose, body = _item_parts()
    path = export_dataset_zip(tmp_path / "x.zip", "x", person, cloth, cloth_mask, parsing, pose, body)
    assert path == tmp_path / "x.zip" and zipfile.is_zipfile(path)
    buf = io.BytesIO()
    data = export_dataset_zip(buf, "x.jpg", person, cloth, cloth_mask, parsing, pose, body)
    assert buf.getvalue() == data and "test/image/x.jpg" in zipfile.ZipFile(buf).namelist()


@pytest.mark.parametrize(
    "change, match",
    [
        ({"name": "../evil"}, "name"),
        ({"person": Image.new("RGB", (W, W))}, "person photo"),
        ({"cloth_mask": np.zeros((W, W), bool)}, "cloth mask"),
        ({"parsing": Parsing(np.zeros((H, W), np.uint8), ATR)}, "LIP"),
    ],
)
def test_export_validates_inputs(change, match):
    person, cloth, cloth_mask, parsing, pose, body = _item_parts()
    args = dict(out=None, name="a", person=person, cloth=cloth, cloth_mask=cloth_mask, parsing=parsing, pose=pose)
    args.update(change)
    with pytest.raises(InputError, match=match):
        export_dataset_zip(**args)


def test_viton_folder_accepts_the_split_folder_itself(tmp_path):
    root, _ = _export_to(tmp_path)
    folder = VitonFolder(root / "test")  # pairs list found beside it
    assert folder.data_dir == root / "test" and len(folder) == 1


def test_viton_folder_without_pairs_pairs_each_photo_with_its_own_cloth(tmp_path):
    root, _ = _export_to(tmp_path)
    t = root / "test"
    for d in ("cloth", "cloth-mask"):
        (t / d / "look_01_cloth.jpg").rename(t / d / "look_01.jpg")
    folder = VitonFolder(root, pairs=None)
    assert folder.pairs == [("look_01.jpg", "look_01.jpg")]
    assert folder[0].cloth_mask.shape == (H, W)


def test_viton_folder_lists_missing_folders_and_files(tmp_path):
    with pytest.raises(InputError, match="not a VITON"):
        VitonFolder(tmp_path)
    root, _ = _export_to(tmp_path)
    (root / "test" / "pose" / "look_01_keypoints.json").unlink()
    (root / "test" / "cloth-mask" / "look_01_cloth.jpg").unlink()
    with pytest.raises(InputError, match=r"2 file\(s\).*cloth-mask/look_01_cloth\.jpg.*pose/look_01_keypoints\.json"):
        VitonFolder(root)
    (root / "test" / "pose").rmdir()
    with pytest.raises(InputError, match="lacks pose/"):
        VitonFolder(root)


def test_viton_folder_pairs_list_errors(tmp_path):
    root, _ = _export_to(tmp_path)
    with pytest.raises(InputError, match="was not found"):
        VitonFolder(root, pairs="train_pairs.txt")
    (root / "test_pairs.txt").write_text("look_01.jpg\n")
    with pytest.raises(InputError, match="line 1"):
        VitonFolder(root)
    (root / "test_pairs.txt").write_text("../x.jpg look_01_cloth.jpg\n")
    with pytest.raises(InputError, match="plain file name"):
        VitonFolder(root)


def test_viton_folder_reads_an_exported_zip_directly(tmp_path):
    person, cloth, cloth_mask, parsing, pose, body = _item_parts()
    path = export_dataset_zip(tmp_path / "x.zip", "x", person, cloth, cloth_mask, parsing, pose, body)
    item = VitonFolder(path)[0]
    assert np.array_equal(item.parsing.labels, parsing.labels) and np.array_equal(item.cloth_mask, cloth_mask)


def test_viton_folder_refuses_a_zip_with_paths_outside_it(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../outside.txt", b"x")
    with pytest.raises(InputError, match="outside"):
        VitonFolder(path)


def test_mask_png_reads_arrays():
    m = np.zeros((4, 4), bool)
    m[1:3, 1:3] = True
    assert np.array_equal(read_mask_png(m), m)
    assert np.array_equal(read_mask_png(m.astype(np.uint8) * 255), m)
