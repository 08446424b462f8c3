"""Check vton's plain-torch LPIPS and FID Inception against the ``lpips`` and ``pytorch-fid`` packages.

Not part of the test suite: both packages import torchvision, and torchvision's PyPI wheel (0.28.0, built for the
CUDA torch 2.13.0) fails to import next to the CPU torch 2.13.0+cpu — its ``_meta_registrations`` module registers
kernels for the compiled ``torchvision::nms`` operator, which the CPU torch does not have ("operator
torchvision::nms does not exist"). This script replaces that one module with an empty one (it only concerns the
detection operators) so that torchvision's pure-Python model definitions import; nothing else is changed.

Set up once, outside the project's environment (the wheels are unpacked, not installed):

    pip download --no-deps torchvision==0.28.0 lpips==0.1.4 pytorch-fid==0.3.0 -d /tmp/w
    for f in /tmp/w/*.whl; do unzip -q -o "$f" -d /tmp/w/site; done
    PYTHONPATH=$PWD:/tmp/w/site python scripts/check_eval_backbones.py

Both sides read the same weights: the real LPIPS v0.1 heads (the lpips package's own ``alex.pth``) and a RANDOM
AlexNet trunk and FID Inception (the real trunk files are not reachable here; what is compared is the code path,
which the weights do not change). Prints the largest differences.
"""

from __future__ import annotations

import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")


def main() -> int:
    import lpips
    import pytorch_fid.inception as pfi

    from vton.evaluate import backbones as bb
    from vton.evaluate import networks as nets

    tmp = Path(tempfile.mkdtemp(prefix="vton-check-"))
    bb.write_random_backbones(tmp, seed=3)
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (256, 192, 3), dtype=np.uint8) for _ in range(4)]
    noisy = [np.clip(x + rng.normal(0, 25, x.shape), 0, 255).astype(np.uint8) for x in imgs]

    # LPIPS: the library's LPIPS with its own v0.1 heads; our trunk weights copied into its slices.
    heads_file = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    ref = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False).eval()
    trunk = torch.load(tmp / "eval" / "alexnet-owt-7be5be79.pth", weights_only=True)
    slices = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}
    ref.net.load_state_dict({f"slice{slices[int(k.split('.')[1])]}.{k.split('.', 1)[1]}": v
                             for k, v in trunk.items()})
    ours = nets.LPIPS()
    ours.net.load_state_dict(trunk)
    ours.heads.load_state_dict(torch.load(heads_file, map_location="cpu", weights_only=True))
    ours.eval()
    with torch.inference_mode():
        x = torch.stack([bb.lpips_input(a) for a in imgs])
        y = torch.stack([bb.lpips_input(b) for b in noisy])
        a, b = ref(x, y).flatten(), ours(x, y)
    print(f"LPIPS  lpips {lpips.__version__ if hasattr(lpips, '__version__') else '0.1.4'}: {a.tolist()}")
    print(f"LPIPS  vton        : {b.tolist()}  max |diff| {float((a - b).abs().max()):.3g}")

    # FID Inception: pytorch-fid's InceptionV3 (its own resize and scaling) with our random file as its weights.
    sd = torch.load(tmp / "eval" / "pt_inception-2015-12-05-6726825d.pth", weights_only=True)
    pfi.load_state_dict_from_url = lambda *a, **k: sd
    ref_inc = pfi.InceptionV3([3]).eval()
    net = nets.FIDInceptionV3()
    net.load_state_dict(sd)
    net.eval()
    with torch.inference_mode():
        t = torch.stack([torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in imgs])
        fa = ref_inc(t)[0].flatten(1)
        fb = torch.stack([net(bb.inception_input(im, "legacy_pytorch")[None])[0] for im in imgs])
    rel = float((fa - fb).abs().max() / fa.abs().max())
    print(f"FID Inception pytorch-fid vs vton (legacy_pytorch): max |diff| {float((fa - fb).abs().max()):.3g}, "
          f"relative {rel:.3g}, feature scale {float(fa.abs().max()):.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
