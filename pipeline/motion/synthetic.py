"""Clips whose motion is known exactly: every frame rendered from still pictures by exact affine maps.

A clip is a stack of *layers*, back to front. Layer ``ℓ`` is a picture (its texture), an optional
shape (which texture points it covers; ``None`` = all of them) and, per frame ``t``, an affine
map ``A_{ℓ,t}`` from frame pixel coordinates to texture coordinates. Frame ``t`` shows at pixel
``p`` the front-most layer that covers ``A_{ℓ,t}(p)``, sampled there (bicubic). Pixel centres sit
at integer coordinates, as in :mod:`stylevid.pipeline.motion`.

The point seen at pixel ``p`` of frame ``t`` (layer ``ℓ``) is at ``q = A_{ℓ,s}^{-1}(A_{ℓ,t}(p))``
in frame ``s``, so the flow from frame ``t`` to frame ``s`` is known analytically,

.. math::  F_{t \\to s}(p) = A_{\\ell,s}^{-1}\\big(A_{\\ell,t}(p)\\big) - p,
           \\qquad \\text{frame}_t(p) \\approx \\text{frame}_s\\big(p + F_{t \\to s}(p)\\big)

(the convention of :func:`~stylevid.pipeline.motion.flow.compute_flow`). With ``s = t - k`` it is
the **backward flow** of frame ``t`` (``flow_bw``: ``warp(frame_{t-k}, F) ≈ frame_t``); with
``t - k → t`` the forward flow of frame ``t - k``.

Its **validity mask** is exact too: pixel ``p`` counts when it shows a layer at all, ``q`` lies
inside frame ``s`` and all four pixels that bilinear warping reads around ``q`` show the same layer
in frame ``s`` (so a point covered or revealed by a moving object, or one next to its edge, is
excluded: that is the occlusion ground truth).

Two kinds of clip:

* :func:`camera_clip` — a photo seen by a camera that pans, zooms and rotates by known amounts
  (no occlusion; pixels whose point leaves the frame are invalid);
* :func:`object_clip` — a textured disc moving (and turning) over a panning textured background,
  which it covers and reveals.

Pure numpy/OpenCV, deterministic for a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

__all__ = ["Layer", "TrueMotionClip", "camera_clip", "object_clip", "noise_texture"]


def _affine(matrix: np.ndarray) -> np.ndarray:
    """A 2×3 affine map as a 3×3 homogeneous matrix."""
    return np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])


def camera_map(centre: tuple[float, float], zoom: float, angle: float, frame_size: tuple[int, int]) -> np.ndarray:
    """2×3 map frame pixel → texture point of a camera looking at texture point ``centre``.

    ``zoom`` > 1 magnifies (one frame pixel spans ``1/zoom`` texture pixels); ``angle`` (radians)
    turns the picture counter-clockwise on screen. ``frame_size`` is ``(height, width)``.
    """
    h, w = frame_size
    pc = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    c, s = math.cos(angle), math.sin(angle)
    linear = np.array([[c, -s], [s, c]]) / zoom
    offset = np.asarray(centre, dtype=np.float64) - linear @ pc
    return np.hstack([linear, offset[:, None]])


@dataclass(frozen=True)
class Layer:
    """One picture of a clip, placed in every frame by an affine map (frame pixel → texture point)."""

    texture: np.ndarray  # H×W×3 uint8 RGB
    maps: tuple[np.ndarray, ...]  # per frame a 2×3 float64 affine map: frame pixel → texture point
    radius: float | None = None  # None: the layer covers its whole texture; else a disc of this radius…
    centre: tuple[float, float] = (0.0, 0.0)  # …around this texture point (x, y)

    def covers(self, points: np.ndarray) -> np.ndarray:
        """Which texture points ``(..., 2)`` this layer shows (inside its texture, and its disc)."""
        th, tw = self.texture.shape[:2]
        x, y = points[..., 0], points[..., 1]
        inside = (x >= 0) & (x <= tw - 1) & (y >= 0) & (y <= th - 1)
        if self.radius is not None:
            inside &= (x - self.centre[0]) ** 2 + (y - self.centre[1]) ** 2 <= self.radius**2
        return inside


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


@dataclass
class TrueMotionClip:
    """Frames rendered from layers; exact flows and validity masks between any two frames.

    ``frames[t]`` is uint8 ``(h, w, 3)`` RGB. ``flow(t, s)`` and ``valid(t, s)`` follow the module
    doc; ``backward(t, k)`` is ``(flow_bw, valid)`` of frame ``t`` against frame ``t - k``.
    """

    name: str
    layers: tuple[Layer, ...]
    size: tuple[int, int]  # (height, width)
    frames: list[np.ndarray] = field(default_factory=list)
    _labels: list[np.ndarray] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        h, w = self.size
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        self._grid = np.stack([xs, ys], axis=-1)
        count = len(self.layers[0].maps)
        for t in range(count):
            frame = np.zeros((h, w, 3), np.uint8)
            labels = np.full((h, w), -1, np.int16)
            for index, layer in enumerate(self.layers):
                matrix = layer.maps[t]
                picture = cv2.warpAffine(
                    layer.texture,
                    matrix,
                    (w, h),
                    flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                    borderMode=cv2.BORDER_REFLECT101,
                )
                shown = layer.covers(_apply(matrix, self._grid))
                frame[shown] = picture[shown]
                labels[shown] = index
            self.frames.append(frame)
            self._labels.append(labels)

    def __len__(self) -> int:
        return len(self.frames)

    def flow(self, t: int, s: int) -> np.ndarray:
        """``(h, w, 2)`` float32 ``F`` with ``frame_t(p) ≈ frame_s(p + F(p))`` (0 where no layer shows)."""
        flow = np.zeros((*self.size, 2), np.float64)
        labels = self._labels[t]
        for index, layer in enumerate(self.layers):
            where = labels == index
            to_frame_s = np.linalg.inv(_affine(layer.maps[s])) @ _affine(layer.maps[t])
            points = self._grid[where]
            flow[where] = _apply(to_frame_s[:2], points) - points
        return flow.astype(np.float32)

    def valid(self, t: int, s: int) -> np.ndarray:
        """``(h, w)`` bool: pixel ``p`` of frame ``t`` is seen at ``p + F(p)`` in frame ``s`` and the
        bilinear warp of frame ``s`` there reads only pixels of the same layer (see module doc)."""
        h, w = self.size
        labels, labels_s = self._labels[t], self._labels[s]
        target = self._grid + self.flow(t, s).astype(np.float64)
        x, y = target[..., 0], target[..., 1]
        ok = (labels >= 0) & (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
        x0 = np.clip(np.floor(x), 0, w - 1).astype(np.intp)
        y0 = np.clip(np.floor(y), 0, h - 1).astype(np.intp)
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        for yy, xx in ((y0, x0), (y0, x1), (y1, x0), (y1, x1)):
            ok &= labels_s[yy, xx] == labels
        return ok

    def backward(self, t: int, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(flow_bw, valid)`` of frame ``t`` against frame ``t - k`` (``warp(frame_{t-k}, flow_bw) ≈ frame_t``)."""
        if not 0 < k <= t < len(self):
            raise ValueError(f"frame {t} has no frame {k} before it in a clip of {len(self)}")
        return self.flow(t, t - k), self.valid(t, t - k)

    def forward(self, t: int, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(flow_fw, valid)`` of frame ``t - k`` towards frame ``t`` (on frame ``t - k``'s grid)."""
        if not 0 < k <= t < len(self):
            raise ValueError(f"frame {t} has no frame {k} before it in a clip of {len(self)}")
        return self.flow(t - k, t), self.valid(t - k, t)


def _prepared(photo: np.ndarray, long_side: int) -> np.ndarray:
    """The photo at ``long_side`` px, area-filtered (band-limited, so bicubic sampling stays faithful)."""
    h, w = photo.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    picture = cv2.resize(np.ascontiguousarray(photo), size, interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(picture, (0, 0), 0.6)


def noise_texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 RGB texture: coloured blobs over fine blurred noise (seeded)."""
    rng = np.random.default_rng(seed)
    fine = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.2)
    blobs = cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), max(height, width) / 24)
    fine = (fine - fine.min()) / max(float(np.ptp(fine)), 1e-6)
    blobs = (blobs - blobs.min()) / max(float(np.ptp(blobs)), 1e-6)
    return np.clip((0.45 * fine[..., None] + 0.55 * blobs) * 255 + 0.5, 0, 255).astype(np.uint8)


def camera_clip(
    photo: np.ndarray,
    *,
    size: tuple[int, int] = (120, 160),
    frames: int = 8,
    shift: tuple[float, float] = (2.0, 1.0),
    zoom: float = 1.01,
    rotate_degrees: float = 0.6,
    seed: int = 0,
) -> TrueMotionClip:
    """A photo panned, zoomed and rotated at a steady rate.

    Per frame the view moves by ``shift`` (x, y) frame pixels, magnifies by ``zoom`` and turns by
    ``rotate_degrees`` (counter-clockwise) about the frame centre. The photo is scaled so the
    view covers half its width; ``seed`` jitters the starting point.
    """
    h, w = size
    texture = _prepared(photo, 2 * max(h, w))
    th, tw = texture.shape[:2]
    rng = np.random.default_rng(seed)
    start = np.array([tw / 2.0, th / 2.0]) + rng.uniform(-0.05, 0.05, 2) * (tw, th)
    maps = []
    for t in range(frames):
        scale = zoom**t
        angle = -math.radians(rotate_degrees) * t  # the view turns clockwise: the picture counter-clockwise
        centre = start + np.asarray(shift) * t  # the moves are ~frame pixels at zoom 1
        maps.append(camera_map((centre[0], centre[1]), scale, angle, size))
    return TrueMotionClip(
        f"camera shift {shift} zoom {zoom} rotate {rotate_degrees}°", (Layer(texture, tuple(maps)),), size
    )


def object_clip(
    background: np.ndarray,
    foreground: np.ndarray | None = None,
    *,
    size: tuple[int, int] = (120, 160),
    frames: int = 8,
    background_shift: tuple[float, float] = (1.0, 0.0),
    object_velocity: tuple[float, float] = (-4.0, 1.5),
    object_turn_degrees: float = 3.0,
    radius_fraction: float = 0.22,
    seed: int = 0,
) -> TrueMotionClip:
    """A textured disc crossing a panning background, covering and revealing it.

    The background (a photo) pans by ``background_shift`` frame pixels per frame; the disc (cut
    from ``foreground``, or a seeded noise texture) of radius ``radius_fraction × height`` moves by
    ``object_velocity`` per frame and turns by ``object_turn_degrees``. It starts right of centre
    and travels left, so both covering and revealing happen in a few frames.
    """
    h, w = size
    back = _prepared(background, 2 * max(h, w))
    bh, bw = back.shape[:2]
    radius = radius_fraction * h
    side = int(math.ceil(2 * radius)) + 8
    rng = np.random.default_rng(seed)
    if foreground is None:
        front = noise_texture(side, side, seed)
    else:
        front = _prepared(foreground, side)
        front = np.ascontiguousarray(front[:side, :side])
        if front.shape[0] < side or front.shape[1] < side:
            front = cv2.resize(front, (side, side), interpolation=cv2.INTER_CUBIC)
    disc_centre = ((side - 1) / 2.0, (side - 1) / 2.0)
    back_start = np.array([bw / 2.0, bh / 2.0]) + rng.uniform(-0.05, 0.05, 2) * (bw, bh)
    object_start = np.array([w * 0.68, h * 0.45])
    back_maps, front_maps = [], []
    for t in range(frames):
        centre = back_start + np.asarray(background_shift) * t
        back_maps.append(camera_map((centre[0], centre[1]), 1.0, 0.0, size))
        # the disc's own map: frame pixel p → disc point, with the disc centred at its position in frame t
        position = object_start + np.asarray(object_velocity) * t
        angle = math.radians(object_turn_degrees) * t
        c, s = math.cos(angle), math.sin(angle)
        linear = np.array([[c, s], [-s, c]])  # the inverse of turning the disc by +angle on screen
        offset = np.asarray(disc_centre) - linear @ position
        front_maps.append(np.hstack([linear, offset[:, None]]))
    layers = (
        Layer(back, tuple(back_maps)),
        Layer(front, tuple(front_maps), radius=radius, centre=disc_centre),
    )
    return TrueMotionClip(f"object velocity {object_velocity} over pan {background_shift}", layers, size)
