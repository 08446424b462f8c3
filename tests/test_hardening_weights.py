"""Weights that load but cannot be the trained ones, and devices that do not exist: each a clear vton error.

Generated cases: non-finite values (all NaN, every 7th value of one tensor NaN, all +inf, one -inf), absurd
magnitudes (everything × 1e30), a negative BatchNorm variance, and tensors stored in another dtype than the
network declares (int8, float16, float64), each with and without a matching sha256 declared in the folder's
manifest (a matching digest proves only that the file is the one declared). Then ``--device`` values this
machine does not have, through the API and the CLI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from helpers_weights import write_local_manifest
from safetensors.torch import save_file
from torch import nn

from vton import weights
from vton.cli import main
from vton.devices import available_devices, pick_device
from vton.errors import InputError, WeightsError
from vton.pipeline import TryOnPipeline

EX = Path(__file__).resolve().parents[1] / "examples"
KEY, FILE = "cp-vton/gmm", "cp-vton/gmm_final.safetensors"


@pytest.fixture(autouse=True)
def offline(offline_hub):
    return offline_hub


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 4, 1))


def _good(net: nn.Module) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {k: (torch.randn(v.shape, generator=g) * 0.1).abs() + 0.01 if v.is_floating_point() else v.clone()
            for k, v in net.state_dict().items()}


def _every_7th_nan(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[::7] = float("nan")
    return t


def _one_neg_inf(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[3] = float("-inf")
    return t


# (name, which tensor: None = every float tensor, how it is changed, a phrase the message must hold)
VALUE_CASES = [
    ("all NaN", None, lambda t: torch.full_like(t, float("nan")), r"NaN value"),
    ("every 7th of one conv NaN", "2.weight", _every_7th_nan, r"NaN value.*'2\.weight'"),
    ("all +inf", None, lambda t: torch.full_like(t, float("inf")), r"infinite value"),
    ("one -inf", "0.bias", _one_neg_inf, r"1 infinite value.*'0\.bias'"),
    ("everything x 1e30", None, lambda t: t * 1e30, r"values up to .*e\+2\d.*MAX_ABS_WEIGHT"),
    ("one tensor x 1e6", "1.running_mean", lambda t: t * 1e6, r"'1\.running_mean'.*MAX_ABS_WEIGHT"),
    ("negative variance", "1.running_var", lambda t: -t, r"negative variance.*'1\.running_var'"),
]


def _write(tmp_path: Path, sd: dict[str, torch.Tensor], declare: bool) -> Path:
    path = tmp_path / "w" / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(path))
    if declare:
        write_local_manifest(path, KEY, "safetensors")
    return tmp_path / "w"


@pytest.mark.parametrize("declare", [True, False], ids=["sha declared", "no sha"])
@pytest.mark.parametrize("name, which, change, phrase", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_non_finite_or_absurd_weights_are_refused_naming_the_tensor(tmp_path, name, which, change, phrase, declare):
    net = _net()
    sd = _good(net)
    sd = {k: (change(v) if v.is_floating_point() and which in (None, k) else v) for k, v in sd.items()}
    folder = _write(tmp_path, sd, declare)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(WeightsError) as info:
        weights.load_network(net, KEY, folder)
    msg = str(info.value)
    assert re.search(phrase, msg), msg
    assert str(folder / FILE) in msg and "\n" not in msg
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items()), "the network was changed"


@pytest.mark.parametrize("dtype", [torch.int8, torch.float16, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("declare", [True, False], ids=["sha declared", "no sha"])
def test_weights_stored_in_another_dtype_are_refused_naming_the_tensors(tmp_path, dtype, declare):
    net = _net()
    sd = _good(net)
    sd["2.weight"] = (sd["2.weight"] * 100).to(dtype)
    folder = _write(tmp_path, sd, declare)
    with pytest.raises(WeightsError) as info:
        weights.load_network(net, KEY, folder)
    name = str(dtype).removeprefix("torch.")
    assert f"2.weight is {name}, the network declares float32" in str(info.value)


def test_good_weights_still_load_and_the_bound_is_the_float16_maximum(tmp_path):
    assert weights.MAX_ABS_WEIGHT == float(torch.finfo(torch.float16).max)
    net = _net()
    sd = _good(net)
    sd["2.weight"][0, 0, 0, 0] = weights.MAX_ABS_WEIGHT  # at the bound: accepted
    weights.load_network(net, KEY, _write(tmp_path, sd, True))
    assert float(net[2].weight.detach().max()) == weights.MAX_ABS_WEIGHT


@pytest.mark.parametrize("change", ["nan", "int8"])
def test_a_method_with_bad_weights_fails_before_any_preprocessing_through_the_cli(tmp_path, change, capsys):
    """The whole chain: PF-AFN (tiny random weights written by vton itself) with one tensor broken."""
    from safetensors.torch import load_file

    from vton.tools.random_weights import write_random_weights

    write_random_weights(tmp_path / "w", methods=["pf-afn"])
    path = tmp_path / "w" / "pf-afn" / "warp_model_final.safetensors"
    sd = load_file(str(path))
    name = sorted(k for k, v in sd.items() if k.endswith(".weight") and v.ndim == 4)[5]
    sd[name] = _every_7th_nan(sd[name]) if change == "nan" else sd[name].to(torch.int8)
    save_file(sd, str(path), metadata={"vton_random": "true"})
    write_local_manifest(path, "pf-afn/warp", "safetensors")  # the digest matches: still refused
    declared = json.loads((path.parent / "manifest.json").read_text())["entries"]["pf-afn/warp"]["sha256"]
    assert declared == weights.file_sha256(path)
    code = main(["tryon", "--method", "pf-afn", "--person", str(EX / "geometric_person.png"), "--cloth",
                 str(EX / "geometric_cloth.png"), "--weights-dir", str(tmp_path / "w"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert name in err.replace("\n       ", "") and not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------------- devices

BAD_DEVICES = ["cuda", "cuda:0", "cuda:99", "meta", "xla", "mps", "cpu:x", "gpu", "", "x" * 5000]


@pytest.mark.parametrize("device", BAD_DEVICES, ids=lambda d: d[:12] or "empty")
def test_devices_this_machine_lacks_are_refused_naming_the_available_ones(device):
    if device in available_devices() or (device == "cuda" and "cuda:0" in available_devices()):
        pytest.fail(f"this test expects a machine without {device!r} (CPU-only CI)")
    with pytest.raises(InputError) as info:
        pick_device(device)
    msg = str(info.value)
    assert "available here: cpu" in msg and len(msg) < 300, msg
    for method in ("geometric", "cp-vton"):
        with pytest.raises(InputError, match="available here: cpu"):
            TryOnPipeline(method, device=device)


@pytest.mark.parametrize("method", ["geometric", "cp-vton"])
@pytest.mark.parametrize("device", ["cuda", "meta", "cuda:99"])
def test_the_cli_refuses_missing_devices_with_exit_2(tmp_path, capsys, method, device):
    code = main(["tryon", "--method", method, "--person", str(EX / "geometric_person.png"), "--cloth",
                 str(EX / "geometric_cloth.png"), "--device", device, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "available here: cpu" in err and "Traceback" not in err
    assert "Torch not compiled" not in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("device", [None, "cpu", torch.device("cpu")])
def test_result_json_records_the_device_the_run_used(device):
    pipe = TryOnPipeline("geometric", device=device)
    r = pipe(EX / "geometric_person.png", EX / "geometric_cloth.png", pose=EX / "geometric_person_keypoints.json",
             parsing=EX / "geometric_person_parse.png", cloth_mask=EX / "geometric_cloth_mask.png")
    assert r.provenance["device"] == "cpu"  # no networks: NumPy on the CPU, whatever was asked
    assert r.provenance["device_requested"] == str(pipe.device)
