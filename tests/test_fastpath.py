"""The fast path (``Method.compile``: torch.compile with Inductor freezing) against eager fp32 on the golden
fixtures' inputs: PSNR ≥ 60 dB for the CP-VTON+ GMM grid and the TOM try-on. Slow: compiling takes tens of seconds
on a CPU. Its speed is printed by bench/bench_fastpath.py, not asserted here."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_golden_cpvton import _loaded_network
from tolerances import FASTPATH_PSNR_DB

from vton import methods
from vton.methods.cpvton.networks import compose, tom_outputs

pytestmark = [pytest.mark.slow, pytest.mark.golden]


def psnr(a: torch.Tensor, ref: torch.Tensor) -> float:
    mse = float(((a - ref) ** 2).mean())
    peak = float(ref.max() - ref.min())
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


def test_compiled_networks_equal_eager_on_the_golden_inputs(golden, layouts_dir, make_weights):
    t_gmm, meta_gmm = golden("cpvtonplus_gmm")
    t_tom, meta_tom = golden("cpvtonplus_tom")
    method = methods.create("cp-vton+")
    method.nets = {"gmm": _loaded_network("cp-vton+", "gmm", meta_gmm, layouts_dir, make_weights),
                   "tom": _loaded_network("cp-vton+", "tom", meta_tom, layouts_dir, make_weights)}
    agnostic = torch.cat([t_gmm["in.agnostic.shape"], t_gmm["in.agnostic.head"], t_gmm["in.agnostic.pose"]], 1)
    x = torch.cat([t_tom[f"in.{n}"] for n in json.loads(meta_tom["input_concat"])], 1)
    with torch.inference_mode():
        grid_eager, _ = method.nets["gmm"](agnostic, t_gmm["in.cloth_mask"])
        tryon_eager = compose(t_tom["in.cloth"], *tom_outputs(method.nets["tom"](x)))
        method.compile()
        assert all(hasattr(n, "_orig_mod") for n in method.nets.values())
        grid_fast, _ = method.nets["gmm"](agnostic, t_gmm["in.cloth_mask"])
        tryon_fast = compose(t_tom["in.cloth"], *tom_outputs(method.nets["tom"](x)))
    assert psnr(grid_fast, grid_eager) >= FASTPATH_PSNR_DB
    assert psnr(tryon_fast, tryon_eager) >= FASTPATH_PSNR_DB
