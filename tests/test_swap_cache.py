"""A garment swap on a cached person reuses the person's features and drawings and gives the same try-on as a
fresh run; the paste-back works on the changed region only (pixel-identical: tests/test_framing.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vton import methods
from vton.pipeline import TryOnPipeline
from vton.preprocess.runner import Preprocessor

EX = Path(__file__).resolve().parents[1] / "examples"
PERSON = EX / "geometric_person.png"
GIVEN = {"pose": EX / "geometric_person_keypoints.json", "parsing": EX / "geometric_person_parse.png"}
GARMENTS = [(EX / "geometric_cloth.png", EX / "geometric_cloth_mask.png"),
            (EX / "cloth_longsleeve.png", EX / "cloth_longsleeve_mask.png"),
            (EX / "cloth_tshirt.png", EX / "cloth_tshirt_mask.png")]
# the person-side feature function of each method's network (what a swap must not recompute)
PERSON_FEATURES = {"cp-vton": ("gmm", "person_features"), "cp-vton+": ("gmm", "person_features"),
                   "pf-afn": ("warp", "person_pyramid")}


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    from vton.tools.random_weights import write_random_weights

    folder = tmp_path_factory.mktemp("tiny")
    for m in PERSON_FEATURES:
        write_random_weights(folder, methods=[m], seed=1, **methods.card(m).test_overrides)
    return folder


def _pipe(method: str, folder: Path, cache_size: int) -> TryOnPipeline:
    return TryOnPipeline(method, weights_dir=folder, device="cpu", preprocessor=Preprocessor(folder, "cpu", cache_size),
                         network_overrides=dict(methods.card(method).test_overrides))


@pytest.mark.parametrize("method", list(PERSON_FEATURES))
def test_a_garment_swap_reuses_the_person_features_and_equals_a_fresh_run(method, tiny_weights):
    net_name, fn_name = PERSON_FEATURES[method]
    swap = _pipe(method, tiny_weights, cache_size=4)
    swap.load()
    net = swap.method.nets[net_name]
    calls = []
    original = getattr(net, fn_name)
    setattr(net, fn_name, lambda *a, **k: calls.append(1) or original(*a, **k))
    for i, (cloth, mask) in enumerate(GARMENTS):
        r = swap(PERSON, cloth, cloth_mask=mask, **GIVEN)
        fresh = _pipe(method, tiny_weights, cache_size=0)(PERSON, cloth, cloth_mask=mask, **GIVEN)
        torch.testing.assert_close(r.tryon, fresh.tryon, atol=1e-6, rtol=0)
        assert len(calls) == 1, f"person features computed {len(calls)} times after {i + 1} garments"
        assert {s.key for s in r.stages()} == {s.key for s in fresh.stages()}
        if i:
            assert "framing" in r.pre.cached
            assert any(k[0] == method for k in r.pre.person_cache)


def test_a_person_without_cache_computes_its_features_every_time(tiny_weights):
    pipe = _pipe("pf-afn", tiny_weights, cache_size=0)
    pipe.load()
    net = pipe.method.nets["warp"]
    calls = []
    original = net.person_pyramid
    net.person_pyramid = lambda *a, **k: calls.append(1) or original(*a, **k)
    for cloth, mask in GARMENTS[:2]:
        pipe(PERSON, cloth, cloth_mask=mask)
    assert len(calls) == 2


def test_person_features_count_in_the_person_caches_byte_bound(tiny_weights):
    swap = _pipe("pf-afn", tiny_weights, cache_size=4)
    swap(PERSON, GARMENTS[0][0], cloth_mask=GARMENTS[0][1])
    pre = swap.preprocess(PERSON, GARMENTS[1][0], cloth_mask=GARMENTS[1][1])
    kept = [v for k, v in pre.person_cache.items() if k[0] == "pf-afn"]
    assert kept, "the person pyramid was not kept"
    pyramid_bytes = sum(t.numel() * t.element_size() for v in kept for t in v)
    assert swap.preprocessor.cache_info()["person"]["bytes"] >= pyramid_bytes
