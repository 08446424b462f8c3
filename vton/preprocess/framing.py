"""Framing a person photo the way the try-on datasets are framed, and putting the result back into the photo.

The classic methods (VITON, Han et al. CVPR 2018; CP-VTON, Wang et al. ECCV 2018, sergeywong/cp-vton) work on
192 × 256 (W × H) frames: one person on a light background, centred, the head near the top and the body down to
about the thighs. ``frame_person`` maps any photo into such a frame with one scale and an offset, and
``paste_back`` maps a result frame back to the photo's resolution.

Convention: points are pixel coordinates with the origin at the top-left pixel's corner (``vton.annotations``),
so a photo point ``p`` is at ``p' = scale · p + (offset_x, offset_y)`` in the frame, and resizing an image by
``scale`` maps pixel corners to pixel corners.

Framing rule with a pose (constants below, approximate VITON proportions):

- the person is centred horizontally on the neck (else on the mean of the present keypoints);
- the scale makes the torso (neck to the hips' midpoint) ``TORSO_FRACTION`` of the frame height, with the neck at
  ``NECK_Y_FRACTION`` of the height;
- the person's box (present keypoints, widened by a margin for the hands and feet, clipped to the photo) is
  never cropped when avoidable: the scale is lowered until the box fits, and the box is shifted into the frame;
- the box reaches up to the estimated top of the head, hair included: ``HEAD_ABOVE_FACE`` face-to-neck lengths
  above the highest of the nose, eyes and ears, or ``HEAD_ABOVE_NECK`` shoulder widths above the neck when the
  face is not seen (adult proportions: the top of the hair is about 0.8 nose-to-neck lengths above the eyes);
- without a usable pose (or without a torso) the box alone is fitted, and without any pose the whole photo is
  letterboxed. Frame areas the photo does not cover are white (the datasets' backgrounds are light).

Photos no frame can hold (thinner than ``vton.images.MAX_ASPECT``, smaller than ``MIN_SIDE``) are refused with
the same message as ``vton.images.load_image``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from ..annotations import Parsing, Pose
from ..errors import InputError
from ..images import ImageSource, check_image_size, load_image
from ..labels import COCO18
from ..run import FRAME  # (W, H): the default frame (a run frames to its card's ``frame``)

__all__ = [
    "TORSO_FRACTION", "NECK_Y_FRACTION", "HEAD_ABOVE_FACE", "HEAD_ABOVE_NECK", "FrameTransform",
    "head_top", "frame_transform", "frame_person",
    "frame_image", "frame_mask", "frame_labels", "paste_back",
]

TORSO_FRACTION = 0.43  # neck-to-hips / frame height
NECK_Y_FRACTION = 0.23  # neck height / frame height
HEAD_ABOVE_FACE = 1.1  # head top above the highest face point, in face-to-neck lengths
HEAD_ABOVE_NECK = 1.1  # head top above the neck, in shoulder widths, when no face point is seen
WHITE = (255, 255, 255)
_NECK, _NOSE, _RHIP, _LHIP = (COCO18.index(n) for n in ("neck", "nose", "right_hip", "left_hip"))
_RSHOULDER, _LSHOULDER = COCO18.index("right_shoulder"), COCO18.index("left_shoulder")
_FACE = [COCO18.index(n) for n in ("nose", "right_eye", "left_eye", "right_ear", "left_ear")]


@dataclass(frozen=True)
class FrameTransform:
    """Photo pixels → frame pixels: ``p' = scale · p + (offset_x, offset_y)`` (corner-origin coordinates).

    Attributes:
        scale: frame pixels per photo pixel.
        offset_x, offset_y: where the photo's origin lands in the frame.
        src_size: the photo's ``(width, height)``.
        frame_size: the frame's ``(width, height)``.
    """

    scale: float
    offset_x: float
    offset_y: float
    src_size: tuple[int, int]
    frame_size: tuple[int, int] = FRAME

    def __post_init__(self) -> None:
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise InputError(f"a frame transform needs a positive scale, got {self.scale}")

    @property
    def offset(self) -> tuple[float, float]:
        return (self.offset_x, self.offset_y)

    def to_frame(self, points) -> np.ndarray:
        """``(..., 2)`` photo (x, y) → frame (x, y)."""
        p = np.asarray(points, dtype=np.float64)
        return p * self.scale + np.array(self.offset)

    def to_photo(self, points) -> np.ndarray:
        """``(..., 2)`` frame (x, y) → photo (x, y)."""
        p = np.asarray(points, dtype=np.float64)
        return (p - np.array(self.offset)) / self.scale

    @property
    def inverse(self) -> FrameTransform:
        """Frame → photo, as a ``FrameTransform`` from the frame to the photo."""
        return FrameTransform(1.0 / self.scale, -self.offset_x / self.scale, -self.offset_y / self.scale,
                              self.frame_size, self.src_size)

    def frame_pose(self, pose: Pose) -> Pose:
        """The pose in frame pixels; keypoints that fall outside the frame become missing."""
        out = pose.transformed(self.scale, self.offset, self.frame_size)
        w, h = self.frame_size
        inside = out.present & (out.keypoints[:, 0] < w) & (out.keypoints[:, 1] < h)
        return Pose(np.where(inside[:, None], out.keypoints, 0.0), np.where(inside, out.scores, 0.0),
                    self.frame_size, pose.people_found)


def _letterbox(src: tuple[int, int], frame: tuple[int, int]) -> FrameTransform:
    s = min(frame[0] / src[0], frame[1] / src[1])
    return FrameTransform(s, (frame[0] - s * src[0]) / 2, (frame[1] - s * src[1]) / 2, src, frame)


def _shift_into(lo: float, hi: float, offset: float, limit: float) -> float:
    """Move ``offset`` so that ``[lo, hi] + offset`` lies inside ``[0, limit]``, or centre it when it cannot."""
    if hi - lo > limit:
        return (limit - (hi - lo)) / 2 - lo
    if lo + offset < 0:
        return -lo
    if hi + offset > limit:
        return limit - hi
    return offset


def head_top(pose: Pose) -> float | None:
    """Estimated y of the top of the head (hair included) in the pose's pixels, or None without a neck.

    From the face: ``HEAD_ABOVE_FACE`` × (neck to the face points' mean) above the highest face point; without
    face points: ``HEAD_ABOVE_NECK`` shoulder widths above the neck.
    """
    kp, present = pose.keypoints.astype(np.float64), pose.present
    if not present[_NECK]:
        return None
    face = [i for i in _FACE if present[i]]
    if face:
        unit = float(np.hypot(*(kp[face].mean(0) - kp[_NECK])))
        if unit > 1.0:
            return float(kp[face, 1].min()) - HEAD_ABOVE_FACE * unit
    if present[_RSHOULDER] and present[_LSHOULDER]:
        width = float(np.hypot(*(kp[_RSHOULDER] - kp[_LSHOULDER])))
        if width > 1.0:
            return float(kp[_NECK, 1]) - HEAD_ABOVE_NECK * width
    return None


def frame_transform(src_size: tuple[int, int], pose: Pose | None = None,
                    frame_size: tuple[int, int] = FRAME, *, what: str = "person photo") -> FrameTransform:
    """The photo → frame transform of the framing rule (see the module docstring).

    Raises:
        InputError: a photo too small, too large or too thin for a frame (``vton.images`` bounds), or a pose of
            another image size.
    """
    w, h = int(src_size[0]), int(src_size[1])
    fw, fh = int(frame_size[0]), int(frame_size[1])
    if fw < 1 or fh < 1:
        raise InputError(f"cannot frame a {w} × {h} photo into {fw} × {fh}")
    check_image_size((w, h), what)
    if (w, h) == (fw, fh):  # already a frame (dataset images): keep it exactly as it is
        return FrameTransform(1.0, 0.0, 0.0, (w, h), (fw, fh))
    if pose is None or pose.present.sum() < 2:
        return _letterbox((w, h), (fw, fh))
    if tuple(pose.size) != (w, h):
        raise InputError(f"the pose is for a {pose.size[0]} × {pose.size[1]} image, the photo is {w} × {h}")
    kp, present = pose.keypoints.astype(np.float64), pose.present
    pts = kp[present]
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    torso = None
    if present[_NECK] and (present[_RHIP] or present[_LHIP]):
        hips = kp[[i for i in (_RHIP, _LHIP) if present[i]]].mean(0)
        torso = float(np.hypot(*(hips - kp[_NECK])))
        torso = torso if torso > 1.0 else None
    size = torso if torso is not None else max(y1 - y0, x1 - x0, 1.0) / 2
    head = 0.6 * float(np.hypot(*(kp[_NOSE] - kp[_NECK]))) if present[_NOSE] and present[_NECK] else 0.25 * size
    margin = 0.15 * size
    bx0, bx1 = max(0.0, x0 - margin), min(float(w), x1 + margin)
    top = y0 - max(head, margin)
    crown = head_top(pose)
    by0, by1 = max(0.0, top if crown is None else min(top, crown)), min(float(h), y1 + margin)
    s_fit = min(fw / max(bx1 - bx0, 1.0), fh / max(by1 - by0, 1.0))
    s = min(TORSO_FRACTION * fh / torso, s_fit) if torso is not None else s_fit
    cx = kp[_NECK, 0] if present[_NECK] else pts[:, 0].mean()
    ox = fw / 2 - s * cx
    oy = NECK_Y_FRACTION * fh - s * kp[_NECK, 1] if present[_NECK] else fh / 2 - s * (by0 + by1) / 2
    ox = _shift_into(s * bx0, s * bx1, ox, fw)
    oy = _shift_into(s * by0, s * by1, oy, fh)
    return FrameTransform(float(s), float(ox), float(oy), (w, h), (fw, fh))


def _warp(img: Image.Image, t: FrameTransform, resample: Image.Resampling, fill) -> Image.Image:
    """``img`` (photo-sized) drawn into the frame by ``t``; strong reductions first box-reduce by an integer factor."""
    s = t.scale
    factor = int(1.0 / (2.0 * s)) if resample != Image.Resampling.NEAREST and s < 0.5 else 1
    src = img.reduce(factor) if factor > 1 else img
    se = s * factor  # photo pixel x is reduced pixel x / factor
    data = (1.0 / se, 0.0, -t.offset_x / se, 0.0, 1.0 / se, -t.offset_y / se)
    return src.transform(t.frame_size, Image.Transform.AFFINE, data, resample=resample, fillcolor=fill)


def frame_image(image: ImageSource, transform: FrameTransform) -> Image.Image:
    """An RGB photo drawn into the frame (bicubic, white where the photo does not reach)."""
    img = load_image(image, "person photo")
    _check_size(img.size, transform)
    return _warp(img, transform, Image.Resampling.BICUBIC, WHITE)


def frame_person(image: ImageSource, pose: Pose | None = None, size: tuple[int, int] = FRAME, *,
                 what: str = "person photo") -> tuple[Image.Image, FrameTransform]:
    """Frame a person photo as the datasets are framed.

    Args:
        image: the photo (any size or aspect).
        pose: the person's pose in the photo's pixels, to centre and scale on the body; None letterboxes.
        size: the frame's ``(width, height)``.
        what: how messages name the photo ("garment photo" when framing a garment).

    Returns:
        The framed RGB image of ``size`` and the photo → frame transform.

    Raises:
        InputError: an unreadable photo, one no frame can hold, or a pose of another size.
    """
    img = load_image(image, what)
    t = frame_transform(img.size, pose, size, what=what)
    return _warp(img, t, Image.Resampling.BICUBIC, WHITE), t


def _check_size(size: tuple[int, int], t: FrameTransform) -> None:
    if tuple(size) != tuple(t.src_size):
        raise InputError(f"the image is {size[0]} × {size[1]}, but the frame transform is for {t.src_size[0]} × "
                         f"{t.src_size[1]}")


def frame_mask(mask: np.ndarray, transform: FrameTransform) -> np.ndarray:
    """``(H, W)`` photo mask → ``(frame H, frame W) bool`` (nearest; False outside the photo)."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise InputError(f"a mask must be 2-D (H, W), got shape {m.shape}")
    _check_size((m.shape[1], m.shape[0]), transform)
    img = Image.fromarray(((m > 0) * 255).astype(np.uint8))
    return np.asarray(_warp(img, transform, Image.Resampling.NEAREST, 0)) > 127


def frame_labels(labels: np.ndarray | Parsing, transform: FrameTransform) -> np.ndarray | Parsing:
    """A label map (array or ``Parsing``) → the frame (nearest, so only existing labels; 0 outside the photo)."""
    lab = labels.labels if isinstance(labels, Parsing) else np.asarray(labels)
    if lab.ndim != 2:
        raise InputError(f"a label map must be 2-D (H, W), got shape {lab.shape}")
    if lab.size and (lab.min() < 0 or lab.max() > 255):
        raise InputError(f"label values must be 0..255, got {int(lab.min())}..{int(lab.max())}")
    _check_size((lab.shape[1], lab.shape[0]), transform)
    out = np.asarray(_warp(Image.fromarray(lab.astype(np.uint8)), transform, Image.Resampling.NEAREST, 0))
    return Parsing(out, labels.label_set) if isinstance(labels, Parsing) else out


def paste_back(result_frame: Image.Image, transform: FrameTransform, original: ImageSource,
               mask: np.ndarray | None = None, feather: float = 1.0) -> Image.Image:
    """Put a result frame back into the photo, at the photo's resolution.

    Only the photo's box around the mask (or the frame, without a mask) is resampled, feathered and blended
    (grown by the feathering's reach and the bicubic kernel); the rest of the photo is copied as it is, so the
    cost follows the changed region, not the photo's size.

    Args:
        result_frame: the frame-sized RGB result.
        transform: the transform that made the frame from ``original``.
        original: the photo.
        mask: optional ``(frame H, frame W)`` or photo-sized mask (bool or [0, 1]) of where the result replaces the
            photo; None replaces everything the frame covers.
        feather: Gaussian softening of the mask's edge, in frame pixels (0: none).

    Returns:
        An RGB image of the photo's size: the photo, with the result composited where the frame covers it.
    """
    photo = load_image(original, "person photo")
    _check_size(photo.size, transform)
    res = load_image(result_frame, "result").convert("RGB")
    if res.size != tuple(transform.frame_size):
        raise InputError(f"the result is {res.size[0]} × {res.size[1]}, the frame is "
                         f"{transform.frame_size[0]} × {transform.frame_size[1]}")
    s, (ox, oy) = transform.scale, transform.offset
    fw, fh = transform.frame_size
    pw, ph = photo.size
    m = None if mask is None else np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    if m is not None and m.ndim != 2:
        raise InputError(f"a mask must be 2-D (H, W), got shape {m.shape}")
    if m is not None and m.shape not in ((fh, fw), (ph, pw)):
        raise InputError(f"the mask is {m.shape[1]} × {m.shape[0]}; it must be frame-sized ({fw} × {fh}) or "
                         f"photo-sized ({pw} × {ph})")
    # the photo box to work on: the mask's (or frame's) extent, grown by the blur's reach and 2 px of kernel
    if m is None or m.shape == (fh, fw):
        ys, xs = np.nonzero(m > 0) if m is not None else (np.array([0, fh - 1]), np.array([0, fw - 1]))
        if xs.size == 0:
            return photo.copy()
        corners = transform.to_photo(np.array([[xs.min(), ys.min()], [xs.max() + 1.0, ys.max() + 1.0]]))
    else:
        ys, xs = np.nonzero(m > 0)
        if xs.size == 0:
            return photo.copy()
        corners = np.array([[xs.min(), ys.min()], [xs.max() + 1.0, ys.max() + 1.0]], np.float64)
    grow = 3.0 * feather / s + 4.0 if (m is not None and feather > 0) else 2.0 / s + 2.0
    x0, y0 = (max(int(np.floor(v - grow)), 0) for v in corners[0])
    x1, y1 = min(int(np.ceil(corners[1, 0] + grow)), pw), min(int(np.ceil(corners[1, 1] + grow)), ph)
    if x1 <= x0 or y1 <= y0:
        return photo.copy()
    box = (x1 - x0, y1 - y0)
    data = (s, 0.0, ox + s * x0, 0.0, s, oy + s * y0)  # box pixel → frame
    up = res.transform(box, Image.Transform.AFFINE, data, resample=Image.Resampling.BICUBIC)
    cover = Image.new("L", res.size, 255).transform(box, Image.Transform.AFFINE, data,
                                                    resample=Image.Resampling.BILINEAR, fillcolor=0)
    alpha = np.asarray(cover, np.float32) / 255.0
    if m is not None:
        if m.shape == (fh, fw):
            m_img = Image.fromarray(m * 255.0).convert("L")
            m_box = m_img.transform(box, Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR,
                                    fillcolor=0)
        else:
            m_box = Image.fromarray((m[y0:y1, x0:x1] * 255.0 + 0.5).astype(np.uint8))
        if feather > 0:
            m_box = m_box.filter(ImageFilter.GaussianBlur(feather / s))
        alpha = alpha * (np.asarray(m_box, np.float32) / 255.0)
    a = alpha[..., None]
    crop = photo.crop((x0, y0, x1, y1))
    blended = np.asarray(crop, np.float32) * (1.0 - a) + np.asarray(up, np.float32) * a
    out = photo.copy()
    out.paste(Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8)), (x0, y0))
    return out
