"""Draw ``docs/images/geometric_stages.png``, the README's picture of the training-free geometric try-on (after
VITON's shape-context TPS step: Han et al., CVPR 2018, xthan/VITON@0370ca3) on the project's drawn example pair
(``examples/geometric_*``, CC0): framed person, garment, garment outline with landmarks, the person's target region,
the matched pairs, the TPS grid, the composition mask and the try-on, side by side with 4-pixel white gaps.

Run ``python docs/make_geometric_stages.py`` after changing the method (the output is deterministic).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's vton, not an installed one

from vton.pipeline import TryOnPipeline  # noqa: E402

PANELS = ("person", "cloth", "garment_outline", "target_outline", "matches", "tps_grid", "composition_mask", "tryon")
GAP = 4


def main(out: Path = ROOT / "docs" / "images" / "geometric_stages.png") -> Path:
    ex = ROOT / "examples"
    result = TryOnPipeline("geometric")(ex / "geometric_person.png", ex / "geometric_cloth.png",
                                        pose=ex / "geometric_person_keypoints.json",
                                        parsing=ex / "geometric_person_parse.png",
                                        cloth_mask=ex / "geometric_cloth_mask.png")
    images = [result.stage(key).image for key in PANELS]
    h = max(img.shape[0] for img in images)
    row = []
    for img in images:
        row += [img, np.full((h, GAP, 3), 255, np.uint8)]
    Image.fromarray(np.concatenate(row[:-1], 1)).save(out, optimize=True)
    return out


if __name__ == "__main__":
    print(main().relative_to(ROOT))
