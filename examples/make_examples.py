"""Draw the app's example photos and their exact annotations (made by the vton project, CC0).

A simple synthetic figure (head, hair, a green top, arms, trousers, shoes) on a light background, drawn with PIL at
the dataset size (192 × 256) and as a larger photo-like picture (768 × 1024, gradient wall, soft noise), plus two
garments on white (a T-shirt and a long-sleeve top). Because the drawing is ours, its annotations are exact: the
OpenPose COCO-18 keypoints are the joints the figure is drawn from, the LIP parse map is the same shapes filled with
label ids, and the garment masks are the garment shapes. The examples therefore run without pose or parsing weights.

The ``geometric_*`` files are a second drawn pair made with :mod:`vton.synthetic` (the project's own drawing code for
test people and garments) and written with the dataset-format writers of :mod:`vton.formats`; they need no weights
at all with the training-free geometric method.

Run ``python examples/make_examples.py`` to regenerate every file in this folder (the output is deterministic).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's vton, not an installed one

from vton import synthetic  # noqa: E402
from vton.formats import write_mask_png, write_openpose_json, write_parse_png  # noqa: E402
from vton.labels import palette  # noqa: E402

HERE = Path(__file__).resolve().parent

# The LIP label ids the figure uses (LIP order, see vton.labels.LIP); kept here so the script needs only PIL.
LIP_IDS = {"background": 0, "hair": 2, "upper_clothes": 5, "pants": 9, "face": 13, "left_arm": 14, "right_arm": 15,
           "left_shoe": 18, "right_shoe": 19}
COCO18 = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
          "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
          "right_eye", "left_eye", "right_ear", "left_ear")

# Joints of the figure in the 192 × 256 frame (x right, y down). The figure faces the camera, so its right side is
# on the image's left.
JOINTS: dict[str, tuple[float, float]] = {
    "nose": (96, 42), "neck": (96, 62),
    "right_shoulder": (72, 67), "right_elbow": (62, 104), "right_wrist": (58, 138),
    "left_shoulder": (120, 67), "left_elbow": (130, 104), "left_wrist": (134, 138),
    "right_hip": (84, 142), "right_knee": (82, 190), "right_ankle": (81, 234),
    "left_hip": (108, 142), "left_knee": (110, 190), "left_ankle": (111, 234),
    "right_eye": (91, 37), "left_eye": (101, 37), "right_ear": (83, 40), "left_ear": (109, 40),
}

SKIN, HAIR, TOP, PANTS, SHOE = (224, 180, 150), (70, 45, 30), (60, 150, 90), (50, 60, 100), (40, 40, 40)

Paint = Callable[[str, tuple[int, int, int]], object]


def _draw_figure(paint: Paint, s: float, ox: float = 0.0, oy: float = 0.0) -> None:
    """Draw the figure with ``paint(label, colour)`` returning ``(draw, fill)``; coordinates scaled by ``s``."""

    def P(x: float, y: float) -> tuple[float, float]:
        return (ox + x * s, oy + y * s)

    def J(name: str) -> tuple[float, float]:
        return P(*JOINTS[name])

    def box(cx: float, cy: float, rx: float, ry: float) -> tuple[float, float, float, float]:
        (x0, y0), (x1, y1) = P(cx - rx, cy - ry), P(cx + rx, cy + ry)
        return (x0, y0, x1, y1)

    def limb(label: str, colour: tuple[int, int, int], names: tuple[str, ...], width: float) -> None:
        d, f = paint(label, colour)
        pts = [J(n) for n in names]
        d.line(pts, fill=f, width=max(1, round(width * s)), joint="curve")
        for p in pts[1:]:  # round joints; the first point stays under the garment or the hip
            r = width * s / 2
            d.ellipse((p[0] - r, p[1] - r, p[0] + r, p[1] + r), fill=f)

    # trousers, then shoes
    d, f = paint("pants", PANTS)
    d.polygon([P(80, 138), P(112, 138), P(114, 150), P(78, 150)], fill=f)
    limb("pants", PANTS, ("right_hip", "right_knee", "right_ankle"), 17)
    limb("pants", PANTS, ("left_hip", "left_knee", "left_ankle"), 17)
    for side, (x, y) in (("right_shoe", JOINTS["right_ankle"]), ("left_shoe", JOINTS["left_ankle"])):
        d, f = paint(side, SHOE)
        d.ellipse(box(x + (-3 if side == "right_shoe" else 3), y + 9, 12, 6), fill=f)
    # arms (skin) below the top's sleeves; hands
    limb("right_arm", SKIN, ("right_shoulder", "right_elbow", "right_wrist"), 11)
    limb("left_arm", SKIN, ("left_shoulder", "left_elbow", "left_wrist"), 11)
    for side, (x, y) in (("right_arm", JOINTS["right_wrist"]), ("left_arm", JOINTS["left_wrist"])):
        d, f = paint(side, SKIN)
        d.ellipse(box(x, y + 6, 6, 8), fill=f)
    # the top: torso and short sleeves
    d, f = paint("upper_clothes", TOP)
    d.polygon([P(86, 58), P(106, 58), P(122, 62), P(127, 72), P(116, 82), P(115, 146), P(77, 146), P(76, 82),
               P(65, 72), P(70, 62)], fill=f)
    d.polygon([P(70, 62), P(58, 86), P(72, 92), P(78, 76)], fill=f)  # right sleeve
    d.polygon([P(122, 62), P(134, 86), P(120, 92), P(114, 76)], fill=f)  # left sleeve
    # neck and head (LIP has no neck label; the neck is skin of the face region)
    d, f = paint("face", SKIN)
    d.rectangle(box(96, 56, 7, 8), fill=f)
    d.polygon([P(89, 58), P(103, 58), P(96, 66)], fill=f)
    d.ellipse(box(96, 38, 14, 17), fill=f)
    d.ellipse(box(83, 40, 3, 5), fill=f)
    d.ellipse(box(109, 40, 3, 5), fill=f)
    d, f = paint("hair", HAIR)
    d.chord(box(96, 33, 15.5, 14), 180, 360, fill=f)
    d.rectangle(box(82.5, 37, 2.5, 6), fill=f)
    d.rectangle(box(109.5, 37, 2.5, 6), fill=f)
    # face details, colour only (they stay "face" in the parse)
    d, f = paint("face", (30, 30, 30))
    if f != LIP_IDS["face"]:
        for x in (91, 101):
            d.ellipse(box(x, 37, 1.6, 1.6), fill=f)
        d.line([P(92, 48), P(96, 49.5), P(100, 48)], fill=(150, 70, 70), width=max(1, round(s)))


def draw_person(s: float, size: tuple[int, int], background: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The figure at scale ``s`` centred in ``size``: (RGB photo, LIP parse P-mode PNG image)."""
    ox = (size[0] - 192 * s) / 2
    oy = (size[1] - 256 * s) / 2
    photo = background.copy()
    parse = Image.new("P", size, 0)
    parse.putpalette(palette(256).reshape(-1).tolist())  # Pascal-VOC palette, as LIP parse PNGs carry
    pd, dd = ImageDraw.Draw(photo), ImageDraw.Draw(parse)
    _draw_figure(lambda label, colour: (dd, LIP_IDS[label]), s, ox, oy)
    _draw_figure(lambda label, colour: (pd, colour), s, ox, oy)
    return photo, parse


def keypoints(s: float, size: tuple[int, int]) -> dict:
    """OpenPose JSON (the format the VITON / CP-VTON datasets ship) of the figure at scale ``s`` in ``size``."""
    ox = (size[0] - 192 * s) / 2
    oy = (size[1] - 256 * s) / 2
    flat: list[float] = []
    for name in COCO18:
        x, y = JOINTS[name]
        flat += [round(ox + x * s, 3), round(oy + y * s, 3), 1.0]
    return {"version": 1.0, "people": [{"face_keypoints": [], "pose_keypoints": flat, "hand_right_keypoints": [],
                                        "hand_left_keypoints": []}]}


def draw_garment(kind: str, colour: tuple[int, int, int],
                 stripe: tuple[int, int, int]) -> tuple[Image.Image, Image.Image]:
    """A garment on white, 192 × 256, and its mask (L, 0/255). ``kind``: "tshirt" or "longsleeve"."""
    if kind == "tshirt":
        outline = [(70, 40), (84, 36), (96, 48), (108, 36), (122, 40), (160, 70), (146, 98), (134, 88), (134, 220),
                   (58, 220), (58, 88), (46, 98), (32, 70)]
    else:
        outline = [(72, 38), (84, 34), (96, 46), (108, 34), (120, 38), (140, 60), (176, 196), (160, 202),
                   (132, 104), (132, 222), (60, 222), (60, 104), (32, 202), (16, 196), (52, 60)]
    mask = Image.new("L", (192, 256), 0)
    ImageDraw.Draw(mask).polygon(outline, fill=255)
    fabric = Image.new("RGB", (192, 256), colour)
    fd = ImageDraw.Draw(fabric)
    for y in range(60, 256, 22):
        fd.rectangle((0, y, 191, y + 7), fill=stripe)
    fd.ellipse((80, 110, 112, 142), outline=(255, 255, 255), width=3)  # a small logo that shows the warp
    img = Image.new("RGB", (192, 256), (255, 255, 255))
    img.paste(fabric, (0, 0), mask)
    ImageDraw.Draw(img).polygon(outline, outline=tuple(int(c * 0.7) for c in colour))
    return img, mask


def _photo_background(size: tuple[int, int], seed: int = 7) -> Image.Image:
    w, h = size
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    wall = np.array([236, 232, 224], np.float32) * (1 - 0.12 * y) + np.array([10, 8, 4], np.float32) * y
    img = np.broadcast_to(wall, (h, w, 3)).copy()
    floor = int(h * 0.86)
    img[floor:] = np.array([196, 186, 170], np.float32)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _photo_finish(img: Image.Image, seed: int = 7) -> Image.Image:
    """Slight blur and sensor-like noise so the large version looks less like a vector drawing."""
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float32)
    arr += np.random.default_rng(seed).normal(0, 3.0, arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))


GEOMETRIC_PERSON = synthetic.PersonSpec(shirt=(70, 140, 190))
GEOMETRIC_GARMENT = synthetic.GarmentSpec(kind="tshirt", colour=(200, 50, 50), pattern="stripes", stripes=5,
                                accent=(240, 200, 60))


def geometric_pair(size: tuple[int, int]) -> dict[str, bytes]:
    """The drawn pair for the geometric method at ``size``: file suffix → PNG / JSON bytes."""
    person = synthetic.draw_person(size, GEOMETRIC_PERSON)
    garment = synthetic.draw_garment(size, GEOMETRIC_GARMENT)

    def png(arr: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG", optimize=True)
        return buf.getvalue()

    return {
        "person.png": png(person.image),
        "person_keypoints.json": (json.dumps(write_openpose_json(person.pose), indent=1) + "\n").encode(),
        "person_parse.png": write_parse_png(person.parsing),
        "cloth.png": png(garment.image),
        "cloth_mask.png": write_mask_png(garment.mask),
    }


def main(out: Path = HERE) -> list[Path]:
    """Write every example file into ``out``; returns their paths."""
    written: list[Path] = []

    def save(img: Image.Image, name: str, **kw) -> None:
        img.save(out / name, **kw)
        written.append(out / name)

    def save_json(data: dict, name: str) -> None:
        (out / name).write_text(json.dumps(data, indent=1) + "\n")
        written.append(out / name)

    small = (192, 256)
    photo, parse = draw_person(1.0, small, Image.new("RGB", small, (238, 236, 232)))
    save(photo, "person.png")
    save(parse, "person_parse.png")
    save_json(keypoints(1.0, small), "person_keypoints.json")

    big = (768, 1024)
    photo, parse = draw_person(3.6, big, _photo_background(big))
    save(_photo_finish(photo), "person_photo.jpg", quality=92)
    save(parse, "person_photo_parse.png")
    save_json(keypoints(3.6, big), "person_photo_keypoints.json")

    for kind, colour, stripe in (("tshirt", (200, 50, 50), (240, 200, 60)),
                                 ("longsleeve", (40, 80, 170), (230, 230, 240))):
        img, mask = draw_garment(kind, colour, stripe)
        save(img, f"cloth_{kind}.png")
        save(mask, f"cloth_{kind}_mask.png")

    for size, prefix in (((192, 256), "geometric_"), ((768, 1024), "geometric_large_")):
        for suffix, data in geometric_pair(size).items():
            (out / f"{prefix}{suffix}").write_bytes(data)
            written.append(out / f"{prefix}{suffix}")
    return written


if __name__ == "__main__":
    for p in main():
        print(p.relative_to(HERE.parent))
