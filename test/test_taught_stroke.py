"""Taught strokes (env/strokes.py): a recorded polyline of touch points and normals as
a Stroke, forth and back by arc length; its checks; the Path convention the bridge
reads (sim_messages); and MassageEnv's stroke hook, which a subclass overrides."""

import re

import numpy as np
import pytest
from std_msgs.msg import Header

from massage_td3_ros.env.strokes import TaughtStrokeError, taught_polyline, taught_stroke
from massage_td3_ros.ros import sim_messages

DT_S = 1.0 / 30.0
UP = [0.0, 0.0, 1.0]
# An L: 0.1 m along x, then 0.2 m along y (0.3 m of arc), the normal tilting on the way.
CORNER = np.array([[0.0, 0.0, 0.8], [0.1, 0.0, 0.8], [0.1, 0.2, 0.8]])
CORNER_NORMALS = np.array([UP, [0.0, 3.0, 4.0], [0.0, 0.0, 2.0]])


def test_the_point_moves_at_the_speed_along_the_arc_and_goes_forth_and_back():
    speed = 0.03   # 1 mm per step: the 0.3 m of arc take 300 steps
    stroke = taught_stroke(CORNER, CORNER_NORMALS, 700, DT_S, speed)
    steps = np.linalg.norm(np.diff(stroke.touch_m, axis=0), axis=1)
    np.testing.assert_allclose(steps, speed * DT_S, rtol=1e-9)   # round the corner too
    corner, turn = 100, 300
    np.testing.assert_allclose(stroke.touch_m[corner], CORNER[1], atol=1e-12)
    np.testing.assert_allclose(stroke.touch_m[turn], CORNER[2], atol=1e-12)
    np.testing.assert_allclose(stroke.touch_m[2 * turn], CORNER[0], atol=1e-12)  # back
    np.testing.assert_allclose(stroke.progress[[0, 150, 300, 450, 600, 650]],
                               [0.0, 0.5, 1.0, 0.5, 0.0, 1 / 6], atol=1e-12)
    assert stroke.kind == "taught"
    # one tangent for the whole stroke: horizontal, first -> last point
    np.testing.assert_allclose(stroke.tangent, [1 / 5 ** 0.5, 2 / 5 ** 0.5, 0.0])


def test_a_start_progress_starts_the_stroke_part_way():
    stroke = taught_stroke(CORNER, CORNER_NORMALS, 10, DT_S, 0.03, start_progress=0.5)
    np.testing.assert_allclose(stroke.touch_m[0], [0.1, 0.05, 0.8], atol=1e-12)
    assert stroke.progress[1] > stroke.progress[0]


def test_normals_are_unit_and_interpolated_between_the_taught_ones():
    stroke = taught_stroke(CORNER, CORNER_NORMALS, 301, DT_S, 0.03)
    np.testing.assert_allclose(np.linalg.norm(stroke.normal, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(stroke.normal[[0, 100, 300]],
                               [UP, [0.0, 0.6, 0.8], UP], atol=1e-12)
    halfway = np.array([0.0, 0.3, 0.9]) / np.linalg.norm([0.0, 0.3, 0.9])
    np.testing.assert_allclose(stroke.normal[50], halfway, atol=1e-12)
    # the path point pushed in along its normal, as for a planned stroke
    np.testing.assert_allclose(stroke.point(100, 0.01), CORNER[1] - 0.01 * np.array(
        [0.0, 0.6, 0.8]), atol=1e-12)


def test_repeated_points_are_dropped():
    points = np.array([CORNER[0], CORNER[0], CORNER[1]])
    kept, normals = taught_polyline(points, [UP, UP, UP])
    np.testing.assert_allclose(kept, CORNER[:2])
    assert normals.shape == (2, 3)


@pytest.mark.parametrize("points, normals, reason, message", [
    (CORNER[:1], [UP], "too_few_points", "1 point"),
    (np.zeros((0, 3)), np.zeros((0, 3)), "too_few_points", "0 point"),
    ([[0.0, 0.0, 0.8], [0.1, np.nan, 0.8]], [UP, UP], "non_finite", "point 1"),
    (CORNER[:2], [UP, [0.0, np.inf, 1.0]], "non_finite", "point 1"),
    (CORNER[:2], [UP, [0.0, 0.0, 0.0]], "zero_normal", "normal of point 1 is zero"),
    ([CORNER[0], CORNER[0]], [UP, UP], "zero_length", "0.00 mm long"),
    ([CORNER[0], CORNER[0] + [1e-4, 0.0, 0.0]], [UP, UP], "zero_length", "0.10 mm"),
    (CORNER[:2], [UP, [0.0, 0.0, -1.0]], "normal_down", "does not point up"),
    (CORNER[:2], [[-1.0, 0.0, 0.1], [1.0, 0.0, 0.1]], "normal_flip", "points 0 and 1"),
    ([[0.0, 0.0, 0.8], [0.1, 0.0, 0.8], [0.0, 0.0, 0.9]], [UP, UP, UP], "no_direction",
     "closed loop"),
    (np.zeros((3, 2)), np.zeros((3, 2)), "shape", "expected (n, 3)"),
])
def test_an_unusable_polyline_is_refused_with_a_clear_reason(points, normals, reason, message):
    with pytest.raises(TaughtStrokeError, match=re.escape(message)) as error:
        taught_stroke(points, normals, 10, DT_S, 0.05)
    assert error.value.reason == reason
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize("kwargs, message", [
    ({"speed_m_s": 0.0}, "speed"), ({"speed_m_s": np.nan}, "speed"),
    ({"start_progress": 1.5}, "start_progress"), ({"n_points": 0}, "n_points"),
])
def test_bad_timing_is_refused(kwargs, message):
    args = {"n_points": 10, "dt_s": DT_S, "speed_m_s": 0.05, **kwargs}
    with pytest.raises(ValueError, match=message):
        taught_stroke(CORNER, CORNER_NORMALS, **args)


def test_a_path_carries_points_and_normals_both_ways():
    """massage/stroke's convention, which the bridge reads from a taught Path: the pose's
    position is the touch point, its z axis the normal."""
    stroke = taught_stroke(CORNER, CORNER_NORMALS, 301, DT_S, 0.03)
    msg = sim_messages.stroke_path(Header(frame_id="world"), stroke.touch_m, stroke.normal,
                                   every=1)
    points, normals = sim_messages.path_polyline(msg)
    np.testing.assert_allclose(points, stroke.touch_m, atol=1e-12)
    np.testing.assert_allclose(normals, stroke.normal, atol=1e-12)
    msg.poses[1].pose.orientation.x = msg.poses[1].pose.orientation.y = 0.0
    msg.poses[1].pose.orientation.z = msg.poses[1].pose.orientation.w = 0.0
    msg.poses[2].pose.orientation.w = float("nan")
    _, normals = sim_messages.path_polyline(msg)
    assert np.all(normals[1] == 0.0) and np.all(np.isnan(normals[2]))
    np.testing.assert_allclose(sim_messages.path_polyline(
        sim_messages.stroke_path(Header(), [[0, 0, 0]], [[0, 0, -1]]))[1], [[0, 0, -1]],
        atol=1e-12)


def test_a_subclass_supplies_the_stroke_through_the_hook():
    """MassageEnv's reset takes its stroke from _make_stroke: an override (as the bridge's
    taught mode does) changes the path the episode follows and nothing else."""
    from massage_td3_ros.env import MassageEnv

    class Taught(MassageEnv):
        def _make_stroke(self, draw, surface, origin, n_points):
            planned = super()._make_stroke(draw, surface, origin, n_points)
            start = int(np.argmax(planned.progress))   # the planned stroke, backwards
            line = planned.touch_m[:start + 1][::-1]
            return taught_stroke(line, planned.normal[:start + 1][::-1], n_points, self.dt_s,
                                 draw.stroke_speed_m_s)

    options = {"stroke": "along_spine", "direction": "forward"}
    plain = MassageEnv(randomize=False, kneading_amplitude_m=0.0)
    taught = Taught(randomize=False, kneading_amplitude_m=0.0)
    try:
        plain.reset(seed=0, options=options)
        _, info = taught.reset(seed=0, options=options)
        turn = int(np.argmax(plain.stroke.progress))
        np.testing.assert_allclose(taught.stroke.touch_m[0], plain.stroke.touch_m[turn],
                                   atol=1e-9)
        np.testing.assert_allclose(taught.stroke.tangent, -plain.stroke.tangent, atol=1e-9)
        _, _, terminated, _, info = taught.step(np.zeros(3))
        assert not terminated and info["force_n"] > 0.0
    finally:
        plain.close()
        taught.close()
