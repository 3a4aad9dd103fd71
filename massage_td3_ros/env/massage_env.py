"""MassageEnv: a gymnasium env where a 7-DoF arm presses a ball tool along strokes
over a prone person's back, aiming for a target force (see docs/env.md).

Public extras beyond the gymnasium API, for a PID baseline and the ROS sim node:
``dt_s``, ``snapshot()`` (joints, tool pose, contacts), ``path_reference()``
(current path point and surface normal), ``target_force_n`` and the three debug
helpers ``debug_tool_contacts``, ``debug_collision_filters``,
``debug_arm_link_contacts``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
import pybullet as pb

from massage_td3_ros.env import contact as contact_mod
from massage_td3_ros.env.arm import ArmModel
from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.env.episode import EpisodeDraw, draw_episode
from massage_td3_ros.env.force_control import PREVIEW_GAINS, make_base, preview_setpoint_n
from massage_td3_ros.env.metrics import STEP_INFO_KEYS, EpisodeMetrics
from massage_td3_ros.env.observation import OBS_CLIP, OBS_DIM, PREVIEW_POINTS, build_observation
from massage_td3_ros.env.pressure import PREVIEW_STEPS
from massage_td3_ros.env.reward import RewardWeights, compute_reward
from massage_td3_ros.env.scene import BODY_GROUP, build_scene, connect_world
from massage_td3_ros.env.snapshot import ArmSnapshot, PathReference
from massage_td3_ros.env.strokes import (
    COVERAGE_BINS,
    Stroke,
    lateral_error_m,
    make_stroke,
    stroke_line,
    surface_mapper,
)
from massage_td3_ros.env.tissue import NO_REGION, REGIONS
from massage_td3_ros.params import from_dict, to_dict, validate

SAFETY_RETRACT_M = 0.03  # on a tripped safety limit the tool backs off this far
HOME_IK_ROUNDS = 20      # settle rounds of the start pose's IK (from the rest pose)
CLEAR_OF_SCENE_M = (0.0, 0.0, 50.0)  # where the arm is parked while contacts are dropped


class MassageEnv(gymnasium.Env):
    """Pressure-controlled back massage (PyBullet, DIRECT unless render_mode="human")."""

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 30}

    def __init__(self, config: EnvConfig | None = None, render_mode: str | None = None,
                 *, arm_model: ArmModel | None = None, **overrides: Any) -> None:
        config = config or EnvConfig()
        if overrides:
            config = from_dict(EnvConfig, {**to_dict(config), **overrides})
        validate(config)
        config.check()
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode={render_mode!r}: expected None, 'rgb_array' "
                             "or 'human'")
        self.config, self.render_mode = config, render_mode
        self.metadata = {**self.metadata, "render_fps": config.control_hz}
        self.dt_s = config.control_dt_s
        self.weights = RewardWeights.from_config(config)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.observation_space = gymnasium.spaces.Box(-OBS_CLIP, OBS_CLIP, (OBS_DIM,),
                                                      np.float32)
        self.client = connect_world(config, gui=render_mode == "human")
        self.scene = build_scene(self.client, config, arm_model)
        self._rest_pose = self.scene.arm.rest_pose_rad.copy()  # the home IK starts here
        self._arm_base = pb.getBasePositionAndOrientation(self.scene.arm.body_id,
                                                          physicsClientId=self.client)
        self._maps: dict[tuple, Any] = {}
        self._homes: dict[tuple, np.ndarray] = {}
        self._draw: EpisodeDraw | None = None
        self.metrics = EpisodeMetrics(self.dt_s)
        self._base = make_base(config.action_base)  # None: the action alone moves the tool
        self._force_n = 0.0  # sensed after the last reset/step (the base controller's input)
        # (arm link, body link, normal force) of each contact point at the last step's
        # peak substep: see peak_contacts.
        self._peak_points: list[tuple[int, int, float]] = []
        self._substep_forces: list[float] = []  # summed normal force per substep, last step
        self._governed = False  # the force governor stopped the last step's ramp
        # Diagnostics only: called with the substep's index after each physics substep
        # of a step (benchmarks/over_force_causes.py --substeps traces contacts with it).
        self.on_substep: Callable[[int], None] | None = None

    # --- gymnasium API --------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        cfg, scene = self.config, self.scene
        draw = draw_episode(cfg, self.np_random, options or {})
        scene.set_person(draw.body, draw.body_mass_kg, draw.tissue)
        origin = np.array([draw.body_offset_m[0], draw.body_offset_m[1], cfg.table_height_m])
        self._draw = draw
        points = cfg.max_episode_steps + PREVIEW_POINTS * cfg.preview_spacing_steps + 2
        # The stroke first: its map may cast rays, with the body where the map was made.
        self.stroke = self._make_stroke(draw, self._surface(origin), origin, points)
        scene.place_body(origin)
        self._targets = draw.profile.targets_n(points + max(PREVIEW_STEPS), self.dt_s)
        home = self._home(self.stroke.touch_m[0])
        scene.arm.rest_pose_rad = home
        self._place_arm(home)
        self._joint_setpoint = np.asarray(home, dtype=float)  # where the next ramp starts
        self._governed = False
        self._cmd_target = self.stroke.touch_m[0].copy()
        self._step = 0
        self.target_force_n = float(self._targets[0])
        self._last_action = np.zeros(3)
        self._correction = np.zeros(3)
        self._visited: set[int] = set()
        self._terminated = False
        self.metrics.reset()
        if self._base is not None:
            self._base.clear()
        sense = self._sense()
        self._force_n = sense["tool"].force_n
        obs, info = self._observe(sense, np.zeros(3), reward_terms=None)
        return obs, info

    def step(self, action):
        if self._draw is None:
            raise RuntimeError("MassageEnv.step() called before reset()")
        action = self._checked_action(action)
        if self._base is not None:  # residual: the agent corrects the base controller
            action = np.clip(self._base_action() + self.config.residual_scale * action,
                             -1.0, 1.0)
        cfg, arm = self.config, self.scene.arm
        # The axes the action was chosen in: those of the path point the policy observed.
        move = self._action_axes() @ action
        self._step += 1
        self.target_force_n = float(self._targets[self._step])
        point = self.stroke.point(self._step, cfg.nominal_indentation_m)
        wanted = self._wanted_correction(move)
        target, pushed_up = self._bounded_target(point + wanted)
        # The correction keeps the depth limit's push-back, so an increment-mode correction
        # cannot wind up below it (the speed limit only delays the target: not kept).
        self._correction = np.clip(wanted + pushed_up, -cfg.action_scale_m, cfg.action_scale_m)
        self._cmd_target = target
        peak_force, retracting = self._advance(arm.solve_ik(target, cfg.ik_iterations))
        sense = self._sense()
        force = self._force_n = sense["tool"].force_n
        unsafe = max(force, peak_force) > cfg.safety_force_limit_n
        contact_lost = (not sense["tool"].in_contact) and \
            self._step * self.dt_s >= cfg.contact_grace_s
        reward, terms = compute_reward(
            force_n=force, target_force_n=self.target_force_n, band_n=cfg.reward_force_band_n,
            wrong_link=sense["wrong_link"], contact_lost=contact_lost,
            lateral_error_m=sense["lateral_m"], action=action,
            previous_action=self._last_action, unsafe=unsafe, weights=self.weights)
        self._last_action = action
        if sense["tool"].in_contact:
            self._visited.add(self.stroke.coverage_bin(self._step))
        terminated = bool(unsafe) or self._plant_fault()
        truncated = (not terminated) and self._step >= cfg.max_episode_steps
        obs, info = self._observe(sense, target, terms, contact_lost=contact_lost)
        info["safety_retract"] = float(retracting)
        if cfg.force_governor_n:  # absent when off: "on, never acted" reads 0
            info["governed"] = float(self._governed)
        info["peak_force_n"] = peak_force
        if unsafe:
            info["over_force"] = 1.0  # also when only the substep peak crossed the limit
        self.metrics.add(info)
        if terminated or truncated:
            # Not "episode": gymnasium's RecordEpisodeStatistics and SB3's Monitor own it.
            info["episode_metrics"] = self.metrics.summary()
        if self.render_mode == "human":
            self.render()
        return obs, float(reward), terminated, truncated, info

    # --- the plant: what a real arm replaces (ros/bridge_env.py) -----------------------
    def _place_arm(self, joint_pos_rad: np.ndarray) -> None:
        """Put the arm at an episode's start pose, with no contact left from before."""
        self._clear_contacts(joint_pos_rad)

    def _advance(self, joint_targets_rad: np.ndarray) -> tuple[float, bool]:
        """Command the joints and let one control period pass. Returns the peak of the
        summed normal force over the period and whether the safety limit made the arm
        back off.

        The safety limit watches every physics substep, and the sum of the normal
        forces of every arm link on the body: a spike inside a control step, forces
        that cancel in the vector sum, or a link other than the tool all count. The
        substep that crosses it stops the pushing at once: from there on the arm backs
        off along the surface normal for the rest of the control step (then the
        episode ends), rather than pressing on until the step is over.

        With the force governor on (env.force_governor_n), the joints follow a ramp
        from the last setpoint to the new targets over the substeps, and the ramp stops
        where the summed force first exceeds the governor's threshold; the next step
        ramps on from there. Without a ramp the arm reaches a new target within one
        substep, and a governor has nothing to stop."""
        cfg, arm = self.config, self.scene.arm
        governor, start = self._governor_threshold_n(), self._joint_setpoint
        setpoint = np.asarray(joint_targets_rad, dtype=float)
        if not governor:
            arm.command(setpoint)
        peak_force, retracting, self._governed = 0.0, False, False
        self._peak_points, self._substep_forces = [], []
        for substep in range(cfg.substeps):
            if governor and not (retracting or self._governed):
                setpoint = start + (substep + 1) / cfg.substeps * (joint_targets_rad - start)
                arm.command(setpoint)
            pb.stepSimulation(physicsClientId=self.client)
            if self.on_substep is not None:
                self.on_substep(substep)
            points = contact_mod.arm_body_normal_forces(self.client, arm.body_id,
                                                        self.scene.body_id)
            # Summed with no cancellation: forces on opposite sides all count.
            force_now = float(sum(force for _, _, force in points))
            self._substep_forces.append(force_now)
            if force_now > peak_force:
                peak_force, self._peak_points = force_now, points
            if not retracting and force_now > cfg.safety_force_limit_n:
                retracting = True
                arm.command(arm.solve_ik(self._retract_target(), cfg.ik_iterations))
            elif governor and not retracting and force_now > governor:
                self._governed = True  # (at the last substep: no ramp left to stop)
        self._joint_setpoint = setpoint
        return peak_force, retracting

    def _governor_threshold_n(self) -> float:
        """Where the governor stops this step's ramp (0: off): force_governor_n, or the
        target plus force_governor_margin_n, capped at force_governor_n."""
        cfg = self.config
        if cfg.force_governor_n and cfg.force_governor_margin_n:
            return min(self.target_force_n + cfg.force_governor_margin_n, cfg.force_governor_n)
        return cfg.force_governor_n

    @property
    def substep_forces_n(self) -> tuple[float, ...]:
        """The summed normal force (what the safety limit watches) at each physics
        substep of the last step, for diagnostics (how fast a crossing rose)."""
        return tuple(self._substep_forces)

    @property
    def peak_contacts(self) -> dict[tuple[int, int], float]:
        """{(arm link, body link): normal force} at the last step's peak substep, for
        diagnostics (which surfaces a force spike came from:
        benchmarks/over_force_causes.py); built on demand, not in the physics loop."""
        return contact_mod.by_link_pair(self._peak_points)

    def _plant_fault(self) -> bool:
        """A fault of the plant that ends the episode (a real arm's silent sensors)."""
        return False

    def _tool_and_contacts(self):
        """(ToolReading of the tool, every arm-body Contact) as the sensors see them."""
        scene = self.scene
        contacts = self._contacts()
        return contact_mod.tool_reading(self.client, scene.arm.body_id, scene.body_id,
                                        scene.arm.tool_link, contacts), contacts

    def _retract_target(self) -> np.ndarray:
        """Where the tool goes when the safety limit trips: SAFETY_RETRACT_M out of the
        body along the surface normal at the current path point, from where it is now."""
        tool_m, _ = self.scene.arm.tool_pose()
        normal = self.stroke.normal[min(self._step, len(self.stroke.normal) - 1)]
        return np.asarray(tool_m, dtype=float) + SAFETY_RETRACT_M * normal

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        from massage_td3_ros.env.render import render_rgb
        return render_rgb(self.client, self.scene, self.config.render_width,
                          self.config.render_height)

    def close(self):
        if getattr(self, "client", None) is not None and pb.isConnected(self.client):
            pb.disconnect(self.client)
        self.client = None

    # --- extras ---------------------------------------------------------------------
    def snapshot(self) -> ArmSnapshot:
        """Joints, tool pose and every arm-body contact after the last step/reset."""
        arm = self.scene.arm
        q, qd, tau = arm.joint_state()
        pos, quat = arm.tool_pose()
        tool, contacts = self._tool_and_contacts()
        return ArmSnapshot(self._step * self.dt_s, self.dt_s, arm.joint_names, q, qd, tau,
                           pos, quat, tool.force_vector_n, tuple(contacts), arm.tool_link)

    def path_reference(self) -> PathReference:
        """The path point of the current step."""
        index = min(self._step, len(self.stroke.progress) - 1)
        return PathReference(
            target_m=self.stroke.point(index, self.config.nominal_indentation_m),
            touch_m=self.stroke.touch_m[index].copy(),
            normal=self.stroke.normal[index].copy(), tangent=self.stroke.tangent.copy(),
            progress=float(self.stroke.progress[index]),
            action_scale_m=self.config.action_scale_m)

    @property
    def target_preview_n(self) -> np.ndarray:
        """The target force PREVIEW_STEPS control steps ahead [N] (what the person will
        ask for next: the observation carries it)."""
        return np.array([self._targets[self._step + k] for k in PREVIEW_STEPS])

    @property
    def episode(self) -> EpisodeDraw:
        """The person, pressure profile and stroke of the current episode."""
        if self._draw is None:
            raise RuntimeError("MassageEnv.episode before reset()")
        return self._draw

    @property
    def correction_m(self) -> np.ndarray:
        """The correction of the tool target relative to the path point now [m]."""
        return self._correction.copy()

    def action_toward(self, correction_m) -> np.ndarray:
        """The action that moves the correction as close to ``correction_m`` as one step
        allows, in either action mode (for controllers that think in metres)."""
        cfg = self.config
        wanted = np.asarray(correction_m, dtype=np.float64)
        if cfg.action_mode == "offset":
            move = wanted / cfg.action_scale_m
        else:
            move = (wanted - self._correction) / cfg.action_increment_m
        if cfg.action_frame == "surface":
            # Least squares: with the tangential axes scaled to 0, the nearest normal move.
            move = np.linalg.lstsq(self._action_axes(), move, rcond=None)[0]
        return np.clip(move, -1.0, 1.0).astype(np.float32)

    def hold_action(self) -> np.ndarray:
        """The action that keeps the correction where it is: zero in increment mode,
        the last one in offset mode (for a controller that missed its answer)."""
        return self.action_toward(self._correction)

    def debug_tool_contacts(self, verbose: bool = False):
        """Contacts on the tool (list of Contact)."""
        return contact_mod.debug_tool_contacts(self._contacts(), self.scene.arm.tool_link,
                                               verbose)

    def debug_collision_filters(self, verbose: bool = False):
        """Collision-filter state of each arm link against the body (list of LinkFilter)."""
        return contact_mod.debug_collision_filters(
            self.scene.filters, self.scene.body_filters, self.scene.arm.link_names, verbose)

    def debug_arm_link_contacts(self, verbose: bool = False):
        """Contacts of every arm link with the body (link index -> list of Contact)."""
        return contact_mod.debug_arm_link_contacts(
            self._contacts(), len(self.scene.arm.link_names), verbose)

    # --- internals ------------------------------------------------------------------
    def _contacts(self):
        return contact_mod.arm_body_contacts(self.client, self.scene.arm.body_id,
                                             self.scene.body_id)

    def _checked_action(self, action) -> np.ndarray:
        try:
            array = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"action must be 3 numbers, got {action!r}") from error
        if array.shape != (3,):
            raise ValueError(f"action must have shape (3,), got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"action must be finite, got {array.tolist()} (NaN or inf)")
        return np.clip(array, -1.0, 1.0)

    def _base_action(self) -> np.ndarray:
        """The base controller's action this step (EnvConfig.action_base): pid-preview
        on the force sensed after the last step, along the path point's normal."""
        setpoint = preview_setpoint_n(self.target_force_n, self.target_preview_n, self.dt_s,
                                      PREVIEW_GAINS["lead_s"])
        depth_m = self._base.depth_correction_m(self._force_n, setpoint, self.dt_s)
        return self.action_toward(-self.path_reference().normal * depth_m)

    def _action_axes(self) -> np.ndarray:
        """The 3x3 matrix taking an action to a move in world axes, for the path point
        of the current step (EnvConfig.action_frame): the identity in world axes; in
        the surface frame its columns are the stroke's direction along the surface, the
        sideways direction and the outward normal, the first two scaled by
        tangential_action_scale."""
        cfg = self.config
        if cfg.action_frame == "world":
            return np.eye(3)
        normal = self.stroke.normal[min(self._step, len(self.stroke.normal) - 1)]
        along = self.stroke.tangent - np.dot(self.stroke.tangent, normal) * normal
        along /= np.linalg.norm(along)
        scale = cfg.tangential_action_scale
        return np.column_stack([scale * along, scale * np.cross(normal, along), normal])

    def _wanted_correction(self, move: np.ndarray) -> np.ndarray:
        """The correction a move (an action in world axes) asks for, per ``action_mode``."""
        cfg = self.config
        if cfg.action_mode == "offset":
            return move * cfg.action_scale_m
        return np.clip(self._correction + move * cfg.action_increment_m,
                       -cfg.action_scale_m, cfg.action_scale_m)

    def _bounded_target(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Limit the target's speed, then move it up if it is deeper than
        max_indentation_m below the touching point (along the normal). Returns the
        target and that upward move (zero when the depth limit did not bind)."""
        move = target - self._cmd_target
        distance = float(np.linalg.norm(move))
        largest = self.config.max_target_speed_m_s * self.dt_s
        if distance > largest:
            target = self._cmd_target + move * (largest / distance)
        touch, normal = self.stroke.touch_m[self._step], self.stroke.normal[self._step]
        depth = float(np.dot(touch - target, normal))
        pushed_up = np.zeros(3)
        if depth > self.config.max_indentation_m:
            pushed_up = (depth - self.config.max_indentation_m) * normal
        return target + pushed_up, pushed_up

    def _surface(self, origin: np.ndarray):
        """The body's surface map (one per body, always cast with the body at the
        table's origin so that it does not depend on earlier episodes; it then moves
        with the body). Its rays are cast on demand: each stroke needs a band of the
        back, and a new person's whole back would be most of a reset."""
        scene = self.scene
        key = (scene.body, scene.tissue.layered, scene.body_id)  # rays hit this body id
        if key not in self._maps:
            # A rebuilt body has a new id: maps of the bodies before it are never used again.
            self._maps = {k: v for k, v in self._maps.items() if k[2] == scene.body_id}
            geo, pad = scene.geometry, 0.08  # room for kneading and corrections
            half = geo.back_half_width_m + pad
            home = np.array([0.0, 0.0, self.config.table_height_m])
            self._maps[key] = surface_mapper(
                self.client, scene.body_id, home,
                (geo.back_x_range_m[0] - pad, geo.back_x_range_m[1] + pad), (-half, half),
                self.config.tool_radius_m, BODY_GROUP,
                before_cast=lambda: scene.place_body(home))
        surface = self._maps[key]
        surface.origin_m = np.asarray(origin, dtype=float)
        return surface

    def _make_stroke(self, draw: EpisodeDraw, surface, origin: np.ndarray,
                     n_points: int) -> Stroke:
        """The episode's stroke over the body's ``surface`` (its frame at ``origin``), one
        point per control step; a subclass may supply its own (the real-arm bridge's
        taught stroke)."""
        start, end = stroke_line(draw.stroke, draw.direction, self.scene.geometry, origin,
                                 draw.spine_offset_m)
        return make_stroke(
            draw.stroke, surface, start, end, n_points, self.dt_s, draw.stroke_speed_m_s,
            draw.kneading_amplitude_m, draw.kneading_frequency_hz, draw.start_progress)

    def _home(self, start_m: np.ndarray) -> np.ndarray:
        """Joint state with the tool just touching ``start_m``: always solved from the
        rest pose, so it depends on the point only (cached per point)."""
        key = tuple(np.round(start_m, 5))
        if key not in self._homes:
            arm = self.scene.arm
            arm.rest_pose_rad = self._rest_pose.copy()
            if len(self._homes) > 256:  # randomised starts: keep the cache bounded
                self._homes.clear()
            self._homes[key] = arm.settle_ik(start_m, rounds=HOME_IK_ROUNDS)
        return self._homes[key].copy()

    def _clear_contacts(self, joint_pos_rad: np.ndarray) -> None:
        """Put the arm at ``joint_pos_rad`` with no contact left from the last episode.

        Teleporting alone keeps PyBullet's contact points (the last episode's force,
        point and normal would be read at reset, and their cached impulses would warm-
        start the next solve). Moving the arm out of reach and running collision
        detection drops them; the first physics step finds the new ones (until then
        the tool, placed just touching, reads no contact and 0 N)."""
        arm = self.scene.arm
        arm.reset(np.zeros(len(arm.joint_indices)))  # straight up: clear of the body
        pb.resetBasePositionAndOrientation(
            arm.body_id, CLEAR_OF_SCENE_M, pb.getBasePositionAndOrientation(
                arm.body_id, physicsClientId=self.client)[1], physicsClientId=self.client)
        pb.performCollisionDetection(physicsClientId=self.client)
        pb.resetBasePositionAndOrientation(arm.body_id, self._arm_base[0], self._arm_base[1],
                                           physicsClientId=self.client)
        arm.reset(joint_pos_rad)

    def _sense(self) -> dict:
        scene = self.scene
        tool, contacts = self._tool_and_contacts()
        wrong = [c for c in contacts if c.arm_link != scene.arm.tool_link]
        q, qd, _ = scene.arm.joint_state()
        pos, quat = scene.arm.tool_pose()
        point = self.stroke.point(self._step, self.config.nominal_indentation_m)
        lateral = lateral_error_m(pos, point, self.stroke.tangent, self.stroke.normal[self._step])
        return {"tool": tool, "wrong": wrong, "wrong_link": bool(wrong), "q": q, "qd": qd,
                "pos": pos, "quat": quat, "point": point, "lateral_m": lateral}

    def _region_under(self, tool) -> float:
        """Index in tissue.REGIONS of the surface bearing most of the tool's force
        (NO_REGION without tool contact)."""
        if not tool.in_contact or not tool.body_links:
            return NO_REGION
        return float(REGIONS.index(self.scene.region_of(tool.body_links[0])))

    def _observe(self, sense: dict, target_m, reward_terms, contact_lost: bool = False):
        cfg, tool = self.config, sense["tool"]
        force_n = tool.force_n
        preview = np.array([self.stroke.point(self._step + (j + 1) * cfg.preview_spacing_steps,
                                              cfg.nominal_indentation_m)
                            for j in range(PREVIEW_POINTS)])
        obs = build_observation(
            joint_pos_rad=sense["q"], joint_vel_rad_s=sense["qd"], tool_pos_m=sense["pos"],
            tool_quat_xyzw=sense["quat"], force_n=force_n,
            contact_point_m=tool.contact_point_m, contact_normal=tool.normal,
            signed_distance_m=tool.signed_distance_m, wrong_link=sense["wrong_link"],
            path_target_m=sense["point"], path_normal=self.stroke.normal[self._step],
            preview_points_m=preview, target_force_n=self.target_force_n,
            target_preview_n=self.target_preview_n,
            correction_m=self._correction, last_action=self._last_action,
            origin_m=self.scene.body_origin_m)
        target_z = float(np.asarray(target_m)[2]) if np.any(target_m) else sense["point"][2]
        # A wrong link is the more important news (the arm's base, PyBullet link -1,
        # is reported as -3 so it cannot read as "none"); else -2 tool, -1 none.
        if sense["wrong"]:
            link = max(c.arm_link for c in sense["wrong"])
            link = -3 if link < 0 else link
        else:
            link = -2 if tool.in_contact else -1
        values = {
            "force_n": force_n, "target_force_n": self.target_force_n,
            "in_band": float(abs(force_n - self.target_force_n) <= cfg.force_band_n),
            "over_force": float(force_n > cfg.safety_force_limit_n),
            "wrong_link_contact": float(sense["wrong_link"]),
            "contact_lost": float(contact_lost),
            "path_progress": len(self._visited) / COVERAGE_BINS,
            "tool_z_cmd_m": target_z, "tool_z_m": float(sense["pos"][2]),
            "lateral_error_m": sense["lateral_m"], "contact_link": float(link),
            "tissue_region": self._region_under(tool),
            "target_step": float(self._draw.profile.kind == "step" and self._step > 0
                                 and self._targets[self._step] != self._targets[self._step - 1]),
        }
        info: dict[str, Any] = {k: float(values[k]) for k in STEP_INFO_KEYS}
        info["reward_terms"] = dict(reward_terms or {})
        return obs, info
