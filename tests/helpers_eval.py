"""A tiny synthetic VITON test folder (drawn people and garments from ``vton.synthetic``, CC0) for evaluate tests."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from vton.formats import write_mask_png, write_openpose_json, write_parse_png
from vton.synthetic import GarmentSpec, PersonSpec, draw_garment, draw_person

SHIRTS = [(60, 150, 90), (40, 90, 170), (170, 60, 60)]
GARMENTS = [GarmentSpec(colour=(200, 50, 50)), GarmentSpec(colour=(50, 120, 200), pattern="plain"),
            GarmentSpec(colour=(60, 160, 80), pattern="logo")]


def write_viton_folder(root: Path, n: int = 3) -> Path:
    """``root/test/{image,cloth,cloth-mask,image-parse,pose}`` with ``n`` people ``00000i_0.jpg`` and their own
    garments ``00000i_1.jpg`` (PNG data under the .jpg names), and ``root/test_pairs.txt`` pairing person i with
    garment i+1 (the unpaired list)."""
    d = root / "test"
    for sub in ("image", "cloth", "cloth-mask", "image-parse", "pose"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        p = draw_person(spec=PersonSpec(shirt=SHIRTS[i % len(SHIRTS)], arm_spread=4.0 * i))
        g = draw_garment(spec=GARMENTS[i % len(GARMENTS)])
        name, cloth = f"{i:06d}_0", f"{i:06d}_1.jpg"
        Image.fromarray(p.image).save(d / "image" / f"{name}.jpg", format="PNG")
        Image.fromarray(g.image).save(d / "cloth" / cloth, format="PNG")
        (d / "cloth-mask" / cloth).write_bytes(write_mask_png(g.mask))
        (d / "image-parse" / f"{name}.png").write_bytes(write_parse_png(p.parsing, "P"))
        (d / "pose" / f"{name}_keypoints.json").write_text(json.dumps(write_openpose_json(p.pose)))
        lines.append(f"{name}.jpg {(i + 1) % n:06d}_1.jpg")
    (root / "test_pairs.txt").write_text("\n".join(lines) + "\n")
    return root
