"""Cloth mask: synthetic T-shirts (sleeves, a neck opening) drawn with PIL on the backgrounds in-shop photos have,
compared with the known silhouette by IoU."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from vton.errors import InputError
from vton.formats import MIN_GARMENT_FRACTION, check_cloth_mask
from vton.preprocess.cloth_mask import ClothMask, cloth_mask, compute_cloth_mask

SS = 4  # supersampling for anti-aliased edges
NECK = (96, 50)  # a point inside the neck opening (192 × 256 image)

# T-shirt outline in a 192 × 256 image: shoulders, a U-shaped neck opening cut into the top edge, sleeves, body.
SHIRT = [
    (60, 40), (80, 40), (84, 52), (90, 60), (96, 62), (102, 60), (108, 52), (112, 40), (132, 40),
    (170, 70), (158, 100), (140, 88), (140, 225), (52, 225), (52, 88), (34, 100), (22, 70),
]


def _poly(points, scale=1.0, dx=0.0, dy=0.0):
    return [((x * scale + dx) * SS, (y * scale + dy) * SS) for x, y in points]


def _coverage(size, polys, holes=()):
    """Anti-aliased coverage in [0, 1] of ``polys`` minus ``holes``, ``size = (W, H)``."""
    im = Image.new("L", (size[0] * SS, size[1] * SS), 0)
    d = ImageDraw.Draw(im)
    for p in polys:
        d.polygon(p, fill=255)
    for p in holes:
        d.polygon(p, fill=0)
    return np.asarray(im.resize(size, Image.Resampling.BOX), dtype=np.float32) / 255.0


def _compose(bg: np.ndarray, cov: np.ndarray, colour) -> np.ndarray:
    fg = np.broadcast_to(np.asarray(colour, np.float32), bg.shape)
    return (bg * (1 - cov[..., None]) + fg * cov[..., None]).astype(np.float32)


def _to_image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _jpeg_with_noise(photo: Image.Image, quality: int = 85, sigma: float = 2.0) -> Image.Image:
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=quality)
    arr = np.asarray(Image.open(buf).convert("RGB"), np.float32)
    arr = arr + np.random.default_rng(0).normal(0.0, sigma, arr.shape)
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))


def _check(photo: Image.Image, truth: np.ndarray, min_iou: float = 0.97, neck=NECK) -> float:
    """IoU with the truth ≥ ``min_iou`` and the neck open, for the photo and for a JPEG (q 85) + noise (σ 2) copy."""
    ious = []
    for what, img in (("clean", photo), ("jpeg+noise", _jpeg_with_noise(photo))):
        mask = cloth_mask(img)
        assert mask.shape == truth.shape and mask.dtype == bool
        iou = _iou(mask, truth)
        assert iou >= min_iou, f"{what}: IoU {iou:.4f} < {min_iou}"
        if neck is not None:
            assert not mask[neck[1], neck[0]], f"{what}: the neck opening was closed (IoU {iou:.4f})"
        ious.append(iou)
    return ious[0]


def _shirt(size=(192, 256), scale=1.0, dx=0.0, dy=0.0):
    return _poly(SHIRT, scale, dx, dy)


def _flat_bg(size, colour):
    return np.broadcast_to(np.asarray(colour, np.float32), (size[1], size[0], 3)).copy()


def test_shirt_on_pure_white():
    size = (192, 256)
    cov = _coverage(size, [_shirt()])
    photo = _to_image(_compose(_flat_bg(size, (255, 255, 255)), cov, (40, 80, 160)))
    _check(photo, cov >= 0.5)


def test_shirt_on_an_off_white_background_with_a_lighting_gradient():
    size = (192, 256)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    ramp = (xx / size[0] * 0.6 + yy / size[1] * 0.4)[..., None]
    bg = np.array([246, 244, 238], np.float32) * (1 - ramp) + np.array([232, 229, 222], np.float32) * ramp
    cov = _coverage(size, [_shirt()])
    photo = _to_image(_compose(bg, cov, (150, 40, 40)))
    _check(photo, cov >= 0.5)


def test_shirt_on_off_white_240_238_232_light_grey_garment():
    size = (192, 256)
    cov = _coverage(size, [_shirt()])
    photo = _to_image(_compose(_flat_bg(size, (240, 238, 232)), cov, (170, 172, 176)))
    _check(photo, cov >= 0.5)


def test_white_collar_inside_a_dark_shirt_stays_garment():
    size = (192, 256)
    cov = _coverage(size, [_shirt()])
    # a pure-white collar band around the neck opening, 2 px of shirt between it and the opening
    collar_outer = [(73, 43), (79, 43), (82, 56), (89, 66), (96, 69), (103, 66), (110, 56), (113, 43), (119, 43),
                    (116, 60), (106, 73), (96, 76), (86, 73), (76, 60)]
    collar = _coverage(size, [_poly(collar_outer)]) * cov
    arr = _compose(_flat_bg(size, (255, 255, 255)), cov, (30, 30, 60))
    arr = _compose(arr, collar, (255, 255, 255))
    truth = cov >= 0.5
    iou = _check(_to_image(arr), truth)
    mask = cloth_mask(_to_image(arr))
    inside = (collar > 0.99) & truth
    assert mask[inside].mean() > 0.98, f"collar kept {mask[inside].mean():.3f} (IoU {iou:.4f})"


def test_white_collar_touching_the_neck_opening_with_a_seam_stays_garment():
    size = (192, 256)
    cov = _coverage(size, [_shirt()])
    neck_band = [(76, 40), (80, 40), (84, 52), (90, 60), (96, 62), (102, 60), (108, 52), (112, 40), (118, 40),
                 (113, 58), (104, 67), (96, 69), (88, 67), (79, 58)]
    collar = _coverage(size, [_poly(neck_band)]) * cov
    arr = _compose(_flat_bg(size, (255, 255, 255)), cov, (20, 110, 60))
    arr = _compose(arr, collar, (250, 250, 250))
    # the fabric's edge shows as a thin grey seam along the neck opening
    edge = Image.new("L", (size[0] * SS, size[1] * SS), 0)
    ImageDraw.Draw(edge).line(_poly([(76, 40), *SHIRT[1:8], (118, 40)]), fill=255, width=SS * 1)
    seam = np.asarray(edge.resize(size, Image.Resampling.BOX), np.float32) / 255.0 * cov
    arr = _compose(arr, seam, (190, 190, 190))
    truth = cov >= 0.5
    _check(_to_image(arr), truth)
    mask = cloth_mask(_to_image(arr))
    inside = (collar > 0.99) & truth
    assert mask[inside].mean() > 0.9, f"collar kept {mask[inside].mean():.3f}"


def test_soft_grey_shadow_is_background():
    size = (192, 256)
    cov = _coverage(size, [_shirt()])
    shadow = _coverage(size, [_shirt(dx=6, dy=8)])
    shadow = np.asarray(Image.fromarray((shadow * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(6)),
                        np.float32) / 255.0
    bg = _compose(_flat_bg(size, (255, 255, 255)), shadow * 0.8, (185, 185, 188))
    photo = _to_image(_compose(bg, cov, (200, 60, 30)))
    _check(photo, cov >= 0.5)


def test_white_garment_touching_the_border_is_found():
    size = (192, 256)
    big = _shirt(scale=1.3, dx=-29, dy=10)  # the hem runs off the bottom edge
    cov = _coverage(size, [big])
    outline = Image.new("L", (size[0] * SS, size[1] * SS), 0)
    ImageDraw.Draw(outline).line(big + [big[0]], fill=255, width=SS * 2)
    line = np.asarray(outline.resize(size, Image.Resampling.BOX), np.float32) / 255.0
    arr = _compose(_flat_bg(size, (255, 255, 255)), cov, (246, 246, 244))
    arr = _compose(arr, np.clip(line * cov * 1.0, 0, 1), (160, 160, 160))  # the garment's visible contour
    truth = cov >= 0.5
    assert truth[-1].any(), "the test garment must touch the bottom border"
    _check(_to_image(arr), truth, neck=(96, 75))


def test_large_background_coloured_hole_stays_open_and_small_specks_are_dropped():
    size = (192, 256)
    hole = [(76, 120), (116, 120), (116, 170), (76, 170)]
    cov = _coverage(size, [_shirt()], holes=[_poly(hole)])
    arr = _compose(_flat_bg(size, (255, 255, 255)), cov, (90, 40, 120))
    arr[10:12, 10:12] = (120, 120, 120)  # dust specks
    arr[240:242, 180:182] = (40, 40, 40)
    truth = cov >= 0.5
    mask = cloth_mask(_to_image(arr))
    iou = _iou(mask, truth)
    assert iou >= 0.97, f"IoU {iou:.4f}"
    assert not mask[145, 96], "the cut-out hole was filled"
    assert not mask[10:12, 10:12].any() and not mask[240:242, 180:182].any()


def test_rgba_garment_uses_its_alpha():
    size = (192, 256)
    cov = _coverage(size, [_shirt()])
    rgba = np.zeros((size[1], size[0], 4), np.uint8)
    rgba[..., :3] = (255, 255, 255)  # a white garment: only the alpha can tell
    rgba[..., 3] = (cov * 255 + 0.5).astype(np.uint8)
    result = compute_cloth_mask(Image.fromarray(rgba, "RGBA"))
    assert isinstance(result, ClothMask) and result.source == "alpha"
    assert np.array_equal(result.mask, rgba[..., 3] >= 128)


@pytest.mark.parametrize("size", [(48, 64), (768, 1024), (1500, 1000)])
def test_any_size_works(size):
    s = size[1] / 256
    cov = _coverage(size, [_shirt(scale=s, dx=(size[0] - 192 * s) / 2)])
    photo = _to_image(_compose(_flat_bg(size, (250, 250, 250)), cov, (40, 120, 160)))
    result = compute_cloth_mask(photo)
    assert result.source == "background" and result.mask.shape == (size[1], size[0])
    iou = _iou(result.mask, cov >= 0.5)
    assert iou >= 0.95 if size[0] < 100 else iou >= 0.97, f"IoU {iou:.4f} at {size}"


def test_an_empty_photo_is_an_input_error():
    with pytest.raises(InputError, match="no garment found"):
        cloth_mask(Image.new("RGB", (100, 120), (250, 250, 250)))


def test_a_computed_mask_passes_check_cloth_mask_and_a_speck_does_not():
    size = (192, 256)
    cov = _coverage(size, [_shirt()])
    mask = cloth_mask(_to_image(_compose(_flat_bg(size, (255, 255, 255)), cov, (40, 80, 160))))
    assert check_cloth_mask(mask) is mask
    speck = np.zeros_like(mask)
    speck[100:104, 90:94] = True
    assert speck.mean() < MIN_GARMENT_FRACTION
    with pytest.raises(InputError, match=r"covers 16 of 49152 pixels"):
        check_cloth_mask(speck, "garment mask")
