"""Display images of every try-on stage, made from the stage data (structured data first, drawings second).

The drawings follow the figures of CP-VTON (Wang et al., ECCV 2018, sergeywong/cp-vton): the skeleton over the
photo, the colour-coded parse with its legend, the three parts of the person representation, the TPS control
points on the garment and the deformed grid over the warped garment. Every function returns ``(H, W, 3) uint8``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from .annotations import Parsing, Pose
from .images import to_uint8
from .labels import COCO18, COCO18_LIMBS, palette

__all__ = [
    "draw_pose", "parse_with_legend", "mask_image", "tensor_image", "shape_image", "pose_map_image",
    "control_points_image", "deformed_grid_image", "grid_lines_image",
]

_KEYPOINT_COLORS = palette(40)[1:]  # distinct, non-black


def _font(size: int = 11) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _rgb(img: Image.Image | np.ndarray) -> Image.Image:
    return (img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img))).convert("RGB")


def draw_pose(image: Image.Image | np.ndarray, pose: Pose, *, radius: int = 3, width: int = 2) -> np.ndarray:
    """The skeleton (COCO-18 limbs) and keypoints drawn over ``image``; missing points are left out."""
    canvas = _rgb(image).copy()
    draw = ImageDraw.Draw(canvas)
    present = pose.present
    for a, b in COCO18_LIMBS:
        ia, ib = COCO18.index(a), COCO18.index(b)
        if present[ia] and present[ib]:
            color = tuple(int(c) for c in _KEYPOINT_COLORS[ib])
            draw.line([tuple(pose.keypoints[ia]), tuple(pose.keypoints[ib])], fill=color, width=width)
    for i, (x, y) in enumerate(pose.keypoints):
        if present[i]:
            color = tuple(int(c) for c in _KEYPOINT_COLORS[i])
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=color, outline=(255, 255, 255))
    return np.asarray(canvas)


def parse_with_legend(parsing: Parsing, *, legend_width: int = 110) -> np.ndarray:
    """The colour-coded parse map with a legend of the label names present, at its right."""
    colored = parsing.colorize()
    h, w = colored.shape[:2]
    present = [int(i) for i in np.unique(parsing.labels)]
    canvas = Image.new("RGB", (w + legend_width, h), (255, 255, 255))
    canvas.paste(Image.fromarray(colored), (0, 0))
    draw = ImageDraw.Draw(canvas)
    font = _font(10)
    colors = parsing.label_set.colors()
    step = max(10, min(14, (h - 4) // max(1, len(present))))
    for row, label in enumerate(present):
        y = 2 + row * step
        draw.rectangle((w + 4, y, w + 4 + step - 3, y + step - 3), fill=tuple(int(c) for c in colors[label]),
                       outline=(80, 80, 80))
        draw.text((w + step + 4, y - 1), f"{label} {parsing.label_set.names[label]}", fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def tensor_image(t: torch.Tensor) -> np.ndarray:
    """A ``(1, 3, H, W)`` image in [-1, 1] as RGB uint8."""
    return to_uint8(t, signed=True)


def mask_image(t: torch.Tensor | np.ndarray) -> np.ndarray:
    """A mask in [0, 1] (``(1, 1, H, W)`` tensor or ``(H, W)`` array) as a gray RGB image."""
    if isinstance(t, np.ndarray):
        gray = (np.clip(t.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    else:
        gray = to_uint8(t, signed=False)
    return np.repeat(gray[..., None], 3, axis=2)


def shape_image(shape: torch.Tensor) -> np.ndarray:
    """The blurred body-shape channel ``(1, 1, H, W)`` in [-1, 1] as a gray image."""
    return np.repeat(to_uint8(shape, signed=True)[..., None], 3, axis=2)


def pose_map_image(pose_map: torch.Tensor) -> np.ndarray:
    """The 18-channel pose map (+1 squares on −1) as one image: each keypoint's square in its own colour."""
    maps = (pose_map[0] > 0).cpu().numpy()  # (18, H, W)
    out = np.zeros(maps.shape[1:] + (3,), dtype=np.uint8)
    for i in range(maps.shape[0]):
        out[maps[i]] = _KEYPOINT_COLORS[i]
    return out


def _to_pixels(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Normalised (x, y) in [-1, 1] (align_corners=True convention) → pixel centres."""
    return np.stack([(points[:, 0] + 1) / 2 * (width - 1), (points[:, 1] + 1) / 2 * (height - 1)], 1)


def control_points_image(cloth: torch.Tensor, points: np.ndarray, grid_size: int = 5) -> np.ndarray:
    """The garment with the TPS control-point lattice where the warp samples it.

    Args:
        cloth: ``(1, 3, H, W)`` garment in [-1, 1].
        points: ``(grid_size², 2)`` normalised (x, y) source positions, point k = grid_size·ix + iy.
        grid_size: lattice size.
    """
    img = Image.fromarray(tensor_image(cloth))
    w, h = img.size
    px = _to_pixels(np.asarray(points, dtype=np.float64), w, h).reshape(grid_size, grid_size, 2)  # [ix, iy]
    draw = ImageDraw.Draw(img)
    for i in range(grid_size):
        draw.line([tuple(p) for p in px[i, :]], fill=(0, 90, 255), width=1)  # constant x index
        draw.line([tuple(p) for p in px[:, i]], fill=(0, 90, 255), width=1)  # constant y index
    for x, y in px.reshape(-1, 2):
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(255, 40, 40), outline=(255, 255, 255))
    return np.asarray(img)


def grid_lines_image(height: int, width: int, step: int = 16) -> torch.Tensor:
    """``(1, 1, H, W)`` image with 1 on regular grid lines every ``step`` pixels, 0 elsewhere."""
    img = torch.zeros(1, 1, height, width)
    img[..., ::step, :] = 1.0
    img[..., :, ::step] = 1.0
    img[..., height - 1, :] = 1.0
    img[..., :, width - 1] = 1.0
    return img


def deformed_grid_image(warped_cloth: torch.Tensor, grid: torch.Tensor, *, align_corners: bool = True) -> np.ndarray:
    """The regular lattice of the garment photo carried through the TPS grid, drawn over the warped garment.

    Args:
        warped_cloth: ``(1, 3, H, W)`` in [-1, 1].
        grid: ``(1, H, W, 2)`` sampling grid (x, y) the garment was warped with.
        align_corners: the grid's convention.
    """
    h, w = warped_cloth.shape[-2:]
    lines = grid_lines_image(h, w).to(grid)
    warped_lines = F.grid_sample(lines, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)
    alpha = warped_lines.clamp(0, 1)[0, 0].cpu().numpy()[..., None]
    base = tensor_image(warped_cloth).astype(np.float32)
    color = np.array([255.0, 30.0, 30.0], dtype=np.float32)
    return (base * (1 - alpha) + color * alpha + 0.5).astype(np.uint8)


def overlay_image(person: Image.Image | np.ndarray, warped: torch.Tensor, mask: torch.Tensor | np.ndarray,
                  *, alpha: float = 0.85) -> np.ndarray:
    """The warped garment (``(1, 3, H, W)`` in [-1, 1]) laid over the framed person where ``mask`` (≥ 0.5) is on."""
    base = np.asarray(_rgb(person), np.float32)
    top = tensor_image(warped).astype(np.float32)
    m = np.asarray(mask.detach().cpu() if isinstance(mask, torch.Tensor) else mask, np.float32).squeeze()
    a = (m >= 0.5).astype(np.float32)[..., None] * alpha
    return np.clip(base * (1 - a) + top * a + 0.5, 0, 255).astype(np.uint8)


def flow_color(flow_px: np.ndarray, max_norm: float | None = None) -> np.ndarray:
    """A displacement field ``(H, W, 2)`` in pixels (dx, dy) as a colour-wheel image: hue = direction,
    saturation = length / ``max_norm`` (default: the field's longest vector), white = no motion."""
    import cv2

    d = np.asarray(flow_px, np.float32)
    mag = np.hypot(d[..., 0], d[..., 1])
    top = float(max_norm if max_norm else max(mag.max(), 1e-6))
    hsv = np.zeros((*d.shape[:2], 3), np.uint8)
    hsv[..., 0] = ((np.arctan2(d[..., 1], d[..., 0]) + np.pi) / (2 * np.pi) * 179).astype(np.uint8)
    hsv[..., 1] = (np.clip(mag / top, 0, 1) * 255).astype(np.uint8)
    hsv[..., 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _wheel(size: int) -> np.ndarray:
    r = (size - 1) / 2
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    d = np.stack([xs - r, ys - r], -1)
    img = flow_color(d, r)
    img[np.hypot(d[..., 0], d[..., 1]) > r] = 255
    return img


def flow_panel(flow_px: np.ndarray, garment: Image.Image | np.ndarray, *, step: int = 16,
               legend: str = "") -> np.ndarray:
    """Side by side: the flow as a colour wheel image (with the wheel key in its corner) and as arrows over the
    garment, one arrow every ``step`` pixels pointing from where a pixel lands to where it samples the garment."""
    d = np.asarray(flow_px, np.float32)
    h, w = d.shape[:2]
    color = flow_color(d)
    key = _wheel(max(24, w // 4))
    color[2:2 + key.shape[0], 2:2 + key.shape[1]] = key
    base = _rgb(garment).resize((w, h))
    canvas = Image.fromarray(np.concatenate([color, np.asarray(base)], 1))
    draw = ImageDraw.Draw(canvas)
    for y in range(step // 2, h, step):
        for x in range(step // 2, w, step):
            dx, dy = float(d[y, x, 0]), float(d[y, x, 1])
            x0, y0, x1, y1 = w + x, y, w + x + dx, y + dy
            draw.line((x0, y0, x1, y1), fill=(255, 40, 40), width=1)
            draw.ellipse((x1 - 1.5, y1 - 1.5, x1 + 1.5, y1 + 1.5), fill=(255, 200, 0))
    mag = np.hypot(d[..., 0], d[..., 1])
    text = f"{legend} max {mag.max():.1f} px, mean {mag.mean():.1f} px".strip()
    draw.rectangle((0, h - 14, 2 * w, h), fill=(255, 255, 255))
    draw.text((3, h - 13), text, fill=(0, 0, 0), font=_font(10))
    return np.asarray(canvas)


def grid_to_pixel_flow(grid: torch.Tensor) -> np.ndarray:
    """A sampling grid ``(1, H, W, 2)`` (normalised, align_corners=True) → displacement in pixels ``(H, W, 2)``:
    where each output pixel samples the input, minus where it is."""
    g = grid.detach().float().cpu()[0].numpy()
    h, w = g.shape[:2]
    px = (g[..., 0] + 1) * (w - 1) / 2
    py = (g[..., 1] + 1) * (h - 1) / 2
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([px - xs, py - ys], -1)
