"""The generated stand-ins for the estimators' weights: real shapes and signatures, labelled random, loadable by the
pose estimator and the parser from a local weights folder."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from PIL import Image

from vton import weights
from vton.errors import PersonNotFoundError
from vton.labels import ATR, LIP
from vton.preprocess import standins as S
from vton.preprocess.parsing import HumanParser
from vton.preprocess.pose import PoseEstimator


def _props(path) -> dict[str, str]:
    model = onnx.load(str(path))
    return {p.key: p.value for p in model.metadata_props}


@pytest.mark.parametrize("label_set, n, labels, m", [("lip", 473, 20, 119), ("atr", 512, 18, 128)])
def test_tiny_schp_graph_has_the_real_signature_and_says_random(tmp_path, label_set, n, labels, m):
    path = S.write_schp_onnx(tmp_path / "p.onnx", size="tiny", label_set=label_set)
    model = onnx.load(str(path))
    dims = [[d.dim_value for d in v.type.tensor_type.shape.dim] for v in (*model.graph.input, *model.graph.output)]
    assert [v.name for v in model.graph.input] == ["input.1"]
    assert dims == [[1, 3, n, n], [1, labels, m, m], [1, labels, m, m], [1, 2, m, m]]
    props = _props(path)
    assert props["vton.random"] == "true" and "RANDOM" in props["vton.warning"] and "RANDOM" in model.doc_string
    assert (props["vton.size"], props["vton.label_set"]) == ("tiny", label_set)


def test_tiny_parser_runs_and_labels_the_photo_within_the_label_set(tmp_path):
    parser = HumanParser(S.write_schp_onnx(tmp_path / "p.onnx", size="tiny", label_set="atr"), ATR)
    assert (parser.input_size, parser.input_name) == (512, "input.1")
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 70, 3), dtype=np.uint8))
    labels = parser(photo).labels
    assert labels.shape == (90, 70) and labels.dtype == np.uint8
    assert labels.max() < len(ATR) and len(np.unique(labels)) > 1  # random, but not constant


def test_same_seed_same_graph_other_seed_other_weights(tmp_path):
    a = S.write_schp_onnx(tmp_path / "a.onnx", seed=1).read_bytes()
    b = S.write_schp_onnx(tmp_path / "b.onnx", seed=1).read_bytes()
    c = S.write_schp_onnx(tmp_path / "c.onnx", seed=2).read_bytes()
    assert a == b and a != c


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="tiny' or 'real"):
        S.write_schp_onnx(tmp_path / "x.onnx", size="huge")
    with pytest.raises(ValueError, match="lip, atr"):
        S.write_schp_onnx(tmp_path / "x.onnx", label_set="pascal")
    with pytest.raises(ValueError, match=".safetensors or .pth"):
        S.write_random_openpose(tmp_path / "x.bin")


def test_real_stand_in_cost_is_schp_sized_without_building_it():
    # ResNet-101 (3-conv stem, dilated layer 4) + pyramid pooling + decoder + edge + fusion at 473 x 473
    assert S.schp_macs("real", "lip") == 76_484_443_788
    assert S.schp_macs("real", "atr") == 87_389_044_736
    assert S.schp_macs("tiny", "lip") < 50_000_000


@pytest.mark.slow
def test_real_stand_in_has_schp_parameter_count_and_signature(tmp_path):
    path = S.write_schp_onnx(tmp_path / "parsing_lip.onnx", size="real")
    props = _props(path)
    assert int(props["vton.parameters"]) == 66_666_664  # the public export: 266,863,411 bytes ≈ 66.7 M floats
    assert int(props["vton.macs"]) == S.schp_macs("real", "lip")
    assert abs(path.stat().st_size - 266_863_411) < 0.01 * 266_863_411
    parser = HumanParser(path, LIP, threads=1)
    assert parser.input_size == 473
    labels = parser(Image.new("RGB", (60, 80), (120, 90, 60))).labels
    assert labels.shape == (80, 60) and labels.max() < len(LIP)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("standins")
    return root, S.write_random_estimators(root, size="tiny")


def test_random_estimators_folder_is_laid_out_and_declared_as_the_loader_expects(folder):
    root, files = folder
    assert files == {"openpose/body": root / "openpose" / "body_pose_model.safetensors",
                     "schp/lip": root / "schp" / "parsing_lip.onnx", "schp/atr": root / "schp" / "parsing_atr.onnx"}
    for key, path in files.items():
        manifest = json.loads((path.parent / "manifest.json").read_text())
        assert manifest["random"] is True
        declared = manifest["entries"][key]
        assert declared["synthetic"] is True and "RANDOM" in declared["description"]
        assert declared["sha256"] == weights.file_sha256(path) and declared["bytes"] == path.stat().st_size
        entry, overridden = weights.local_entry(key, root)
        assert overridden and entry.synthetic and root / entry.folder / entry.filename == path
        r = weights.resolve(key, root, download=False)
        assert (r.path, r.origin, r.verified) == (path, "local", True)


def test_random_openpose_weights_say_random_and_load_into_the_estimator(folder):
    from safetensors import safe_open

    root, files = folder
    with safe_open(str(files["openpose/body"]), "pt") as f:
        meta = f.metadata()
        n_params = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys())
    assert meta["random"] == "true" and "RANDOM" in meta["warning"] and meta["vton_key"] == "openpose/body"
    assert n_params == 52_311_446
    est = PoseEstimator.from_weights(root)
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 192, 3), dtype=np.uint8))
    try:
        pose = est(photo)
    except PersonNotFoundError:  # random weights may see nobody; the estimator ran
        return
    assert pose.size == (192, 256) and np.all((pose.scores >= 0) & (pose.scores <= 1))


def test_random_parsers_load_from_the_folder_and_give_labels_of_their_sets(folder):
    root, _ = folder
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 256, (120, 100, 3), dtype=np.uint8))
    for dataset, label_set, n in (("lip", LIP, 473), ("atr", ATR, 512)):
        parser = HumanParser.from_weights(dataset, root)
        assert parser.label_set is label_set and parser.input_size == n
        labels = parser(photo).labels
        assert labels.shape == (120, 100) and labels.max() < len(label_set)


def test_writing_again_merges_the_manifests(folder, tmp_path):
    root = tmp_path / "w"
    (root / "schp").mkdir(parents=True)
    (root / "schp" / "manifest.json").write_text(json.dumps({"entries": {"schp/other": {"file": "x"}}}))
    weights.declare_local_file(S.write_schp_onnx(root / "schp" / "parsing_lip.onnx"), "schp/lip", "onnx", S.RANDOM_NOTE)
    entries = json.loads((root / "schp" / "manifest.json").read_text())["entries"]
    assert set(entries) == {"schp/other", "schp/lip"}
