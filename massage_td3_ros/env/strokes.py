"""Massage paths computed from the body's geometry.

At reset a grid of vertical rays is cast onto the body over the back region (taken
from the body's own landmarks; only the cells a stroke reads, on demand); from the
surface heights we compute, for a ball of the tool's radius, the height of its centre
when it just touches the body (the maximum over a disc of surface heights plus the
sphere's cap) and that offset surface's normal. A stroke is a line over the back
(beside the spine, or across it) traversed forth and back at a set speed, with a
sideways sinusoidal kneading modulation; each control step gets one path point.

A taught stroke (``taught_stroke``: a polyline someone recorded on the real person,
as the real-arm bridge receives it) gives the same kind of Stroke without a body
model: the polyline's points and normals, traversed forth and back by arc length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pybullet as pb

GRID_STEP_M = 0.004
RAY_BATCH = 8000
# A new person's stroke band (a few thousand rays) is most of a reset. In training the
# reset runs while the learner process waits for the next state, so a second core is
# usually free; PyBullet's threaded batch returns the same hits (test_env_people.py).
RAY_THREADS = 2
COVERAGE_BINS = 20
MIN_TAUGHT_LENGTH_M = 1e-3   # a taught stroke shorter than this has no usable direction


@dataclass
class SurfaceMap:
    """Tool-centre touching height over an xy grid in the body frame.

    ``origin_m`` (the body frame's place in the world) may be moved: the map
    then follows the body. A map made by ``surface_mapper`` is filled on demand:
    ``fill`` readies the grid cells a query reads before ``touch`` reads them.
    """

    x0: float
    y0: float
    step: float
    height_m: np.ndarray     # (nx, ny) tool-centre height when just touching
    grad: np.ndarray         # (nx, ny, 2) d height / d(x, y)
    origin_m: np.ndarray
    fill: Callable[[np.ndarray, np.ndarray], None] | None = None

    def _cells(self, xy: np.ndarray):
        """Lower-left grid cell (ix, iy) of each local point and its place in it."""
        fx = np.clip((xy[:, 0] - self.x0) / self.step, 0, self.height_m.shape[0] - 1.001)
        fy = np.clip((xy[:, 1] - self.y0) / self.step, 0, self.height_m.shape[1] - 1.001)
        ix, iy = fx.astype(int), fy.astype(int)
        return ix, iy, fx - ix, fy - iy

    @staticmethod
    def _bilinear(values: np.ndarray, ix, iy, tx, ty) -> np.ndarray:
        if values.ndim == 3:
            tx, ty = tx[:, None], ty[:, None]
        return ((1 - tx) * (1 - ty) * values[ix, iy] + tx * (1 - ty) * values[ix + 1, iy]
                + (1 - tx) * ty * values[ix, iy + 1] + tx * ty * values[ix + 1, iy + 1])

    def touch(self, xy) -> tuple[np.ndarray, np.ndarray]:
        """World touching points of the tool centre (n, 3) and unit surface normals
        (n, 3) below world points ``xy`` (n, 2)."""
        xy = np.atleast_2d(np.asarray(xy, dtype=float))
        cells = self._cells(xy - self.origin_m[:2])
        if self.fill is not None:
            self.fill(cells[0], cells[1])
        z = self._bilinear(self.height_m, *cells) + self.origin_m[2]
        g = self._bilinear(self.grad, *cells)
        normal = np.column_stack([-g[:, 0], -g[:, 1], np.ones(len(xy))])
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        return np.column_stack([xy, z]), normal


def _grow(mask: np.ndarray, cells: int) -> np.ndarray:
    """``mask`` grown by ``cells`` grid cells in x and in y (a square neighbourhood)."""
    grown = mask.copy()
    for axis in (0, 1):
        spread = grown.copy()
        for shift in range(1, cells + 1):
            if axis == 0:
                spread[shift:] |= grown[:-shift]
                spread[:-shift] |= grown[shift:]
            else:
                spread[:, shift:] |= grown[:, :-shift]
                spread[:, :-shift] |= grown[:, shift:]
        grown = spread
    return grown


def _box(mask: np.ndarray) -> tuple[slice, slice]:
    """The smallest index box holding every True cell of ``mask``."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


class _SurfaceCaster:
    """Casts the rays of a SurfaceMap's grid cells when a query first needs them.

    A cell's touching height is the maximum over a disc of surface heights (the rays
    within the tool radius), its slope the central difference of its neighbours'
    heights: so a query's cells need their neighbours' heights, and those the rays
    around them. Each value is computed by the same arithmetic as a whole-grid pass,
    so a map filled on demand equals one filled at once, bit for bit."""

    def __init__(self, client: int, body_id: int, xs: np.ndarray, ys: np.ndarray,
                 floor_z_m: float, tool_radius_m: float, collision_mask: int, threads: int,
                 surface: SurfaceMap, before_cast: Callable[[], None] | None) -> None:
        self.client, self.body_id, self.mask, self.threads = (client, body_id,
                                                              collision_mask, threads)
        self.xs, self.ys, self.floor_z_m, self.radius = xs, ys, floor_z_m, tool_radius_m
        self.surface, self.before_cast = surface, before_cast
        shape = (len(xs), len(ys))
        self.hit_z = np.full(shape, floor_z_m)       # the rays' surface heights
        self.cast = np.zeros(shape, bool)
        self.centre = np.full(shape, np.nan)         # tool-centre height when touching
        self.centre_ready = np.zeros(shape, bool)
        self.ready = np.zeros(shape, bool)           # height_m and grad filled
        self.cells = int(np.ceil(tool_radius_m / GRID_STEP_M))

    def __call__(self, ix: np.ndarray, iy: np.ndarray) -> None:
        wanted = np.zeros_like(self.ready)
        for dx in (0, 1):          # the four corners bilinear interpolation reads
            for dy in (0, 1):
                wanted[ix + dx, iy + dy] = True
        wanted &= ~self.ready
        if not wanted.any():
            return
        centres = _grow(wanted, 1) & ~self.centre_ready
        self._cast(_grow(centres, self.cells) & ~self.cast)
        self._centres(centres)
        self._slopes(wanted)

    def _cast(self, rays: np.ndarray) -> None:
        if not rays.any():
            return
        if self.before_cast is not None:
            self.before_cast()
        ix, iy = np.nonzero(rays)
        starts = np.column_stack([self.xs[ix], self.ys[iy],
                                  np.full(len(ix), self.floor_z_m + 1.0)])
        ends = starts.copy()
        ends[:, 2] = self.floor_z_m
        z = self.hit_z[ix, iy]
        for lo in range(0, len(starts), RAY_BATCH):
            hits = pb.rayTestBatch(starts[lo:lo + RAY_BATCH].tolist(),
                                   ends[lo:lo + RAY_BATCH].tolist(),
                                   collisionFilterMask=self.mask, numThreads=self.threads,
                                   physicsClientId=self.client)
            for i, hit in enumerate(hits):
                if hit[0] == self.body_id:
                    z[lo + i] = hit[3][2]
        self.hit_z[ix, iy] = z
        self.cast |= rays

    def _centres(self, centres: np.ndarray) -> None:
        """Ball centre height: max over the disc of (surface + spherical cap)."""
        if not centres.any():
            return
        rows, cols = _box(centres)
        cells, radius = self.cells, self.radius
        padded = np.pad(self.hit_z, cells, constant_values=self.floor_z_m)
        top = np.full((rows.stop - rows.start, cols.stop - cols.start), -np.inf)
        for dx in range(-cells, cells + 1):
            for dy in range(-cells, cells + 1):
                r2 = (dx * dx + dy * dy) * GRID_STEP_M ** 2
                if r2 > radius ** 2:
                    continue
                shifted = padded[cells + dx + rows.start:cells + dx + rows.stop,
                                 cells + dy + cols.start:cells + dy + cols.stop]
                np.maximum(top, shifted + np.sqrt(radius ** 2 - r2), out=top)
        inside = centres[rows, cols]
        self.centre[rows, cols][inside] = top[inside]
        self.centre_ready |= centres

    def _slopes(self, wanted: np.ndarray) -> None:
        """np.gradient's differences (central inside, one-sided at the grid's edges) at
        the wanted cells, from a box one cell wider (its other cells are not used)."""
        rows, cols = _box(wanted)
        nx, ny = self.centre.shape
        rows = slice(max(rows.start - 1, 0), min(rows.stop + 1, nx))
        cols = slice(max(cols.start - 1, 0), min(cols.stop + 1, ny))
        block = self.centre[rows, cols]
        with np.errstate(invalid="ignore"):
            grad = np.stack(np.gradient(block, GRID_STEP_M), axis=-1)
        inside = wanted[rows, cols]
        surface = self.surface
        surface.grad[rows, cols][inside] = grad[inside]
        surface.height_m[rows, cols][inside] = block[inside] - self.floor_z_m
        self.ready |= wanted


def surface_mapper(client: int, body_id: int, origin_m, x_range, y_range,
                   tool_radius_m: float, collision_mask: int = -1,
                   threads: int | None = None,
                   before_cast: Callable[[], None] | None = None) -> SurfaceMap:
    """A map of the body (its frame at ``origin_m``, on the table top) between the
    body-frame x/y ranges (padded by the radius) that casts its rays on demand: a
    reset's stroke needs a band of the back, a few thousand of the grid's rays.
    Only surfaces whose collision group meets ``collision_mask`` count (those the tool
    can touch). ``threads``: PyBullet's ray-batch threads (default RAY_THREADS).
    ``before_cast``: called before rays are cast (to put the body back where the map
    was made, at ``origin_m``)."""
    threads = RAY_THREADS if threads is None else threads
    origin_m = np.asarray(origin_m, dtype=float)
    pad = tool_radius_m + GRID_STEP_M
    xs = np.arange(x_range[0] - pad, x_range[1] + pad, GRID_STEP_M) + origin_m[0]
    ys = np.arange(y_range[0] - pad, y_range[1] + pad, GRID_STEP_M) + origin_m[1]
    shape = (len(xs), len(ys))
    surface = SurfaceMap(x0=float(xs[0] - origin_m[0]), y0=float(ys[0] - origin_m[1]),
                         step=GRID_STEP_M, height_m=np.full(shape, np.nan),
                         grad=np.full(shape + (2,), np.nan), origin_m=origin_m)
    surface.fill = _SurfaceCaster(client, body_id, xs, ys, float(origin_m[2]),
                                  tool_radius_m, collision_mask, threads, surface,
                                  before_cast)
    return surface


def map_surface(client: int, body_id: int, origin_m, x_range, y_range,
                tool_radius_m: float, collision_mask: int = -1,
                threads: int | None = None) -> SurfaceMap:
    """``surface_mapper``'s map with every cell filled at once (the body at
    ``origin_m`` now)."""
    surface = surface_mapper(client, body_id, origin_m, x_range, y_range, tool_radius_m,
                             collision_mask, threads)
    nx, ny = surface.height_m.shape
    ix, iy = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1), indexing="ij")
    surface.fill(ix.ravel(), iy.ravel())
    surface.fill = None
    return surface


@dataclass
class Stroke:
    """One path point per control step (index 0 = the reset state)."""

    kind: str
    touch_m: np.ndarray      # (n, 3) tool centre just touching
    normal: np.ndarray       # (n, 3) outward surface normal
    tangent: np.ndarray      # (3,) unit direction of the stroke line (horizontal)
    progress: np.ndarray     # (n,) position along the stroke, 0..1

    def point(self, index: int, indentation_m: float) -> np.ndarray:
        """Path target at a step: the touching centre pushed in along the normal."""
        index = min(index, len(self.progress) - 1)
        return self.touch_m[index] - indentation_m * self.normal[index]

    def coverage_bin(self, index: int) -> int:
        return min(int(self.progress[min(index, len(self.progress) - 1)] * COVERAGE_BINS),
                   COVERAGE_BINS - 1)


def stroke_line(kind: str, direction: str, geometry, origin_m,
                spine_offset_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (world xy) of a stroke, from the body's back region."""
    x_lo, x_hi = geometry.back_x_range_m
    half = geometry.back_half_width_m
    if kind == "along_spine":  # beside the spine, on the arm's side (-y)
        start, end = np.array([x_lo, -spine_offset_m]), np.array([x_hi, -spine_offset_m])
    elif kind == "across_back":  # over the middle of the thorax
        x = x_lo + 0.65 * (x_hi - x_lo)
        start, end = np.array([x, -half]), np.array([x, half])
    else:
        raise ValueError(f"unknown stroke {kind!r}; expected along_spine or across_back")
    if direction == "reverse":
        start, end = end, start
    offset = np.asarray(origin_m)[:2]
    return start + offset, end + offset


def forth_and_back(n_points: int, dt_s: float, speed_m_s: float, length_m: float,
                   start_progress: float = 0.0) -> np.ndarray:
    """Progress 0..1 along a stroke of ``length_m`` at each of ``n_points`` control steps:
    forth from ``start_progress`` to 1, back to 0, forth again, at ``speed_m_s``."""
    t = np.arange(n_points) * dt_s
    phase = np.mod(start_progress + speed_m_s * t / length_m, 2.0)
    return np.where(phase <= 1.0, phase, 2.0 - phase)


def make_stroke(kind: str, surface: SurfaceMap, start_xy, end_xy, n_points: int,
                dt_s: float, speed_m_s: float, amplitude_m: float,
                frequency_hz: float, start_progress: float = 0.0) -> Stroke:
    """Sample the stroke forth and back at ``speed_m_s`` with kneading, n_points steps."""
    start_xy, end_xy = np.asarray(start_xy), np.asarray(end_xy)
    length = float(np.linalg.norm(end_xy - start_xy))
    direction = (end_xy - start_xy) / length
    sideways = np.array([-direction[1], direction[0]])
    t = np.arange(n_points) * dt_s
    progress = forth_and_back(n_points, dt_s, speed_m_s, length, start_progress)
    kneading = amplitude_m * np.sin(2 * np.pi * frequency_hz * t)
    xy = start_xy + np.outer(progress * length, direction) + np.outer(kneading, sideways)
    touch, normal = surface.touch(xy)
    return Stroke(kind=kind, touch_m=touch, normal=normal,
                  tangent=np.array([direction[0], direction[1], 0.0]), progress=progress)


class TaughtStrokeError(ValueError):
    """A taught polyline that cannot be a stroke; ``reason`` names the failed check."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def taught_polyline(points_m, normals) -> tuple[np.ndarray, np.ndarray]:
    """Check a taught stroke and return (points (n, 3), unit normals (n, 3)).

    ``points_m``: tool-centre positions where the ball just touches the skin, in the
    world frame (z up); ``normals``: the outward surface normal at each (any length but
    zero). Consecutive repeated points are dropped (the later one's normal with them).
    Raises TaughtStrokeError when there are fewer than 2 points, a value is not finite,
    a normal is zero or points down (the person lies on the table: the tool comes from
    above and retracts along the normal), two consecutive normals turn by 90 degrees or
    more, the polyline is shorter than MIN_TAUGHT_LENGTH_M, or its ends are closer than
    that horizontally (the stroke has no direction)."""
    try:
        points = np.asarray(points_m, dtype=float)
        normals = np.asarray(normals, dtype=float)
    except (TypeError, ValueError) as error:
        raise TaughtStrokeError("shape", f"taught stroke: points and normals must be "
                                f"numbers: {error}") from error
    if points.ndim != 2 or points.shape[1:] != (3,) or normals.shape != points.shape:
        raise TaughtStrokeError("shape", f"taught stroke: expected (n, 3) points and "
                                f"normals, got {points.shape} and {normals.shape}")
    if len(points) < 2:
        raise TaughtStrokeError("too_few_points", f"taught stroke: {len(points)} point(s); "
                                "a stroke needs at least 2")
    bad = np.flatnonzero(~np.all(np.isfinite(points) & np.isfinite(normals), axis=1))
    if bad.size:
        raise TaughtStrokeError("non_finite", f"taught stroke: point {bad[0]} has a NaN or "
                                f"infinite value ({points[bad[0]].tolist()}, normal "
                                f"{normals[bad[0]].tolist()})")
    sizes = np.linalg.norm(normals, axis=1)
    if np.any(sizes < 1e-9):
        raise TaughtStrokeError("zero_normal", f"taught stroke: the normal of point "
                                f"{int(np.argmax(sizes < 1e-9))} is zero")
    normals = normals / sizes[:, None]
    if np.any(normals[:, 2] <= 0.0):
        index = int(np.argmax(normals[:, 2] <= 0.0))
        raise TaughtStrokeError("normal_down", f"taught stroke: the normal of point {index} "
                                f"({normals[index].round(3).tolist()}) does not point up; "
                                "the outward normal of a person on the table must")
    keep = np.concatenate([[True], np.linalg.norm(np.diff(points, axis=0), axis=1) > 1e-9])
    points, normals = points[keep], normals[keep]
    length = float(np.sum(np.linalg.norm(np.diff(points, axis=0), axis=1)))
    if length < MIN_TAUGHT_LENGTH_M:
        raise TaughtStrokeError("zero_length", f"taught stroke: {length * 1e3:.2f} mm long; "
                                f"at least {MIN_TAUGHT_LENGTH_M * 1e3:g} mm needed")
    turns = np.einsum("ij,ij->i", normals[1:], normals[:-1])
    if np.any(turns <= 0.0):
        index = int(np.argmax(turns <= 0.0))
        raise TaughtStrokeError("normal_flip", f"taught stroke: the normals of points "
                                f"{index} and {index + 1} turn by 90 degrees or more")
    if np.linalg.norm(points[-1, :2] - points[0, :2]) < MIN_TAUGHT_LENGTH_M:
        raise TaughtStrokeError("no_direction", "taught stroke: its first and last points "
                                "are above each other (a closed loop?): the stroke needs a "
                                "horizontal direction from first to last")
    return points, normals


def taught_stroke(points_m, normals, n_points: int, dt_s: float, speed_m_s: float,
                  start_progress: float = 0.0) -> Stroke:
    """A Stroke along a taught polyline (see taught_polyline for its checks): one point
    per control step, forth and back between the first and the last point at
    ``speed_m_s`` along the polyline's arc length, from ``start_progress`` (0..1 of the
    length); positions and normals interpolated linearly between the taught points (the
    normals renormalised). No kneading: the teacher's motion is the stroke."""
    if not (np.isfinite(speed_m_s) and speed_m_s > 0.0):
        raise ValueError(f"taught stroke: speed {speed_m_s} m/s must be positive")
    if not 0.0 <= start_progress <= 1.0:
        raise ValueError(f"taught stroke: start_progress {start_progress} must be in [0, 1]")
    if n_points < 1:
        raise ValueError(f"taught stroke: n_points {n_points} must be at least 1")
    points, normals = taught_polyline(points_m, normals)
    arc_m = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    progress = forth_and_back(n_points, dt_s, speed_m_s, float(arc_m[-1]), start_progress)
    along_m = progress * arc_m[-1]
    touch = np.column_stack([np.interp(along_m, arc_m, points[:, k]) for k in range(3)])
    normal = np.column_stack([np.interp(along_m, arc_m, normals[:, k]) for k in range(3)])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    # One tangent for the whole stroke, as the planned strokes' straight lines have: the
    # horizontal direction from the first to the last point (a curved stroke's local
    # direction differs from it; lateral_error_m then reads part of it as sideways).
    tangent = np.array([*(points[-1, :2] - points[0, :2]), 0.0])
    return Stroke(kind="taught", touch_m=touch, normal=normal,
                  tangent=tangent / np.linalg.norm(tangent), progress=progress)


def lateral_error_m(tool_m, path_point_m, tangent, normal) -> float:
    """Distance of the tool from the path point, ignoring along-path and normal parts."""
    d = np.asarray(tool_m) - np.asarray(path_point_m)
    n = np.asarray(normal)
    t = np.asarray(tangent) - np.dot(tangent, n) * n
    t /= np.linalg.norm(t)
    side = d - np.dot(d, t) * t - np.dot(d, n) * n
    return float(np.linalg.norm(side))
