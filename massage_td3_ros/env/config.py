"""EnvConfig: every number of the massage env, with its default, in one place.

Imported by the package config and the ROS nodes, so it must stay light: no
PyBullet, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from massage_td3_ros.env.force_control import ACTION_BASES
from massage_td3_ros.env.tissue import max_outer_stiffness_n_per_m
from massage_td3_ros.params import param

STROKES = ("along_spine", "across_back", "random")
# The (low, high) ranges of the people drawn when randomize is on.
RANGES = ("rand_body_height_m", "rand_width_scale", "rand_back_curvature", "rand_body_mass_kg",
          "rand_tissue_scale", "rand_target_force_n", "rand_step_time_s", "rand_rhythm_hz",
          "rand_stroke_speed_m_s", "rand_spine_offset_m", "rand_kneading_amplitude_m",
          "rand_kneading_frequency_hz")
ACTION_MODES = ("increment", "offset")
ACTION_FRAMES = ("world", "surface")
DIRECTIONS = ("forward", "reverse", "random")


@dataclass(frozen=True)
class EnvConfig:
    """Parameters of MassageEnv (scene, control, strokes, reward, randomisation)."""

    # --- timing -----------------------------------------------------------------
    control_hz: float = param(30.0, "Actions per second (control rate).", 1.0, 240.0)
    physics_hz: float = param(240.0, "Physics steps per second; must be a whole multiple "
                              "of control_hz.", 60.0, 2000.0)
    episode_time_s: float = param(20.0, "Episode time limit; reaching it truncates the "
                                  "episode (not a terminal state).", 0.1, 3600.0)
    solver_iterations: int = param(30, "Constraint-solver iterations per physics step.",
                                   5, 200)

    # --- pressure ---------------------------------------------------------------
    target_force_n: float = param(20.0, "Target net normal force of the tool on the back "
                                  "(the person's preferred pressure).", 0.0, 60.0)
    force_band_n: float = param(5.0, "Half-width of the comfortable band around the "
                                "target force.", 0.1, 30.0)
    safety_force_limit_n: float = param(45.0, "Hard safety limit: a force above it ends the "
                                        "episode as unsafe.", 1.0, 200.0)
    force_governor_n: float = param(
        38.0, "Force governor, below safety_force_limit_n; 0: off. When on, each step's "
        "joint targets are reached by a ramp over the period's physics substeps (as an "
        "interpolating arm driver does), and the ramp stops at the substep where the summed "
        "normal force of the arm on the body first exceeds this; the episode goes on and the "
        "step counts as governed. Targets above it are out of reach (docs/env.md).",
        0.0, 200.0)
    force_governor_margin_n: float = param(
        0.0, "Room the force governor leaves above the target; 0: none, the governor "
        "stops at force_governor_n. Above 0 it stops where the summed force first exceeds "
        "the step's target plus this, at most force_governor_n (then a cap).", 0.0, 60.0)

    # --- action -----------------------------------------------------------------
    action_mode: str = param(
        "increment", "increment: the action moves the correction of the tool target by up "
        "to action_increment_m per axis and step (it integrates, as a force controller "
        "does); offset: the action is the correction itself (action_scale_m per unit, the "
        "seed's scheme).", choices=ACTION_MODES)
    action_frame: str = param(
        "world", "world: the action's axes are the world's x, y, z (-z presses down); "
        "surface: the stroke's direction along the surface, the surface's sideways "
        "direction and its outward normal at the path point, so the third axis alone sets "
        "the depth (-1 presses in), as the baselines' force control along the normal does.",
        choices=ACTION_FRAMES)
    tangential_action_scale: float = param(
        1.0, "With action_frame surface: scale on the two axes along the surface (0: the "
        "action moves the tool along the normal only, as the PID baselines do; the path "
        "alone moves it along the surface).", 0.0, 1.0)
    action_scale_m: float = param(0.03, "Largest correction of the tool target per axis "
                                  "relative to the path point (offset mode: action 1.0).",
                                  0.001, 0.1)
    action_increment_m: float = param(0.002, "Increment mode: change of the correction per "
                                      "step for action 1.0 (2 mm: finer first contacts and "
                                      "corrections than 4 mm, results/heldout/PROTOCOL.md; "
                                      "baselines keep the 4 mm they were tuned with).",
                                      1.0e-5, 0.05)
    action_base: str = param(
        "none", "none: the action alone moves the tool target; pid-preview: the action is "
        "a residual added to the pid-preview force controller's own action "
        "(env/force_control.py, the tuned baseline), so learning starts from that "
        "controller and corrects it (both move by action_increment_m per unit; the "
        "residual results used 0.004).", choices=ACTION_BASES)
    residual_scale: float = param(
        1.0, "With an action_base: the agent's action is multiplied by this before it is "
        "added to the base controller's (1: it can override the base entirely; smaller: "
        "it can only correct it, and its noise moves the tool less).", 0.01, 1.0)
    nominal_indentation_m: float = param(
        0.004, "Depth below the touching height at which the path places the tool "
        "centre for a zero action.", 0.0, 0.03)
    max_target_speed_m_s: float = param(
        0.3, "Largest speed of the commanded tool target (a jump in the action is "
        "spread over several steps, as a safety rate limit).", 0.01, 5.0)
    max_indentation_m: float = param(
        0.02, "Commanded targets deeper than this below the touching height (along "
        "the surface normal) are moved back up to it.", 0.0, 0.1)

    # --- tissue and tool --------------------------------------------------------
    tissue_stiffness_n_per_m: float = param(2000.0, "Contact stiffness of the nominal "
                                            "person's tissue, the same everywhere (2000 N/m "
                                            "= 2 N/mm; randomize draws regional, layered "
                                            "tissue instead).", 100.0, 1.0e5)
    tissue_damping_n_s_per_m: float = param(20.0, "Contact damping of the nominal person's "
                                            "tissue.", 1.0, 1.0e4)
    tissue_core_damping_s: float = param(
        0.01, "Contact damping of the drawn people's stiffer cores under the soft outer "
        "layer, per N/m of the core's stiffness [s] (the outer layers': 0.01 s); 0: elastic "
        "cores, no step in the viscous force where the tool reaches one (docs/env.md).",
        0.0, 0.05)
    tool_radius_m: float = param(0.035, "Radius of the spherical massage tool.", 0.01, 0.08)
    tool_mass_kg: float = param(0.3, "Mass of the massage tool.", 0.01, 5.0)

    # --- arm --------------------------------------------------------------------
    arm: str = param("kuka_iiwa", "Arm model from pybullet_data.", choices=("kuka_iiwa",))
    arm_position_gain: float = param(0.3, "Joint position-control gain (PyBullet "
                                     "positionGain).", 0.01, 1.0)
    arm_velocity_gain: float = param(1.0, "Joint position-control velocity gain (PyBullet "
                                     "velocityGain).", 0.0, 2.0)
    arm_force_scale: float = param(1.0, "Scale on the arm's rated joint torques used as "
                                   "motor force limits.", 0.1, 5.0)
    ik_iterations: int = param(8, "Inverse-kinematics iterations per control step (the "
                               "previous solution is the start, so few are needed).", 1, 200)
    arm_lateral_offset_m: float = param(0.62, "Distance of the arm base from the body's "
                                        "midline (beside the table).", 0.3, 1.2)

    # --- body and table ---------------------------------------------------------
    body_height_m: float = param(1.75, "Standing height of the person.", 1.4, 2.1)
    body_mass_kg: float = param(75.0, "Mass of the person.", 40.0, 150.0)
    table_height_m: float = param(0.7, "Height of the massage-table top.", 0.4, 1.0)

    # --- strokes ----------------------------------------------------------------
    stroke: str = param("random", "Massage path: along the spine (beside it) or "
                        "across the back; random picks one per episode.", choices=STROKES)
    stroke_direction: str = param("random", "forward: start at the lower back (along) or "
                                  "the near side (across); reverse: the other end; random "
                                  "picks one per episode.", choices=DIRECTIONS)
    stroke_speed_m_s: float = param(0.05, "Speed of the path point along the stroke.",
                                    0.005, 0.5)
    kneading_amplitude_m: float = param(0.01, "Amplitude of the sideways sinusoidal "
                                        "kneading on the stroke.", 0.0, 0.05)
    kneading_frequency_hz: float = param(0.5, "Frequency of the kneading modulation.",
                                         0.0, 5.0)
    spine_offset_m: float = param(0.05, "Sideways offset of the along-spine stroke from "
                                  "the spine (on the paraspinal muscles).", 0.0, 0.12)
    preview_spacing_steps: int = param(5, "Control steps between the path points "
                                       "previewed in the observation.", 1, 60)
    contact_grace_s: float = param(0.5, "Time at the start of an episode during which "
                                   "having no contact is not penalised.", 0.0, 10.0)

    # --- reward -----------------------------------------------------------------
    reward_force_weight: float = param(1.0, "Weight of the force-band term (1 inside the "
                                       "reward band, falling off linearly outside).",
                                       0.0, 100.0)
    reward_force_band_n: float = param(0.0, "Force error up to which the force-band term "
                                       "scores 1 (0: it falls from the target on, so "
                                       "every newton of error costs, not only those "
                                       "outside the comfort band).", 0.0, 30.0)
    reward_force_falloff_n: float = param(5.0, "Force error beyond the reward band at "
                                          "which the force-band term has fallen from 1 to "
                                          "0.", 0.1, 100.0)
    reward_wrong_link_weight: float = param(1.0, "Penalty per step of contact between an "
                                            "arm link other than the tool and the body.",
                                            0.0, 100.0)
    reward_contact_lost_weight: float = param(0.5, "Penalty per step without tool contact "
                                              "after the grace time.", 0.0, 100.0)
    reward_lateral_weight: float = param(0.5, "Weight of the sideways path-error penalty.",
                                         0.0, 100.0)
    reward_lateral_scale_m: float = param(0.03, "Sideways path error giving a lateral "
                                          "penalty equal to its weight (quadratic).",
                                          0.001, 1.0)
    reward_action_rate_weight: float = param(0.1, "Weight of the jerky-action penalty "
                                             "(mean squared action change).", 0.0, 100.0)
    reward_unsafe_penalty: float = param(100.0, "Penalty on the step that exceeds the "
                                         "safety force limit (ends the episode).", 0.0, 1.0e4)
    reward_overshoot_weight: float = param(0.0, "Weight of the overshoot penalty: force "
                                           "above the target by more than the margin costs "
                                           "this per fall-off, without the force-band term's "
                                           "floor (0: off).", 0.0, 100.0)
    reward_overshoot_margin_n: float = param(3.0, "Force above the target that the overshoot "
                                             "penalty leaves free.", 0.0, 30.0)

    # --- people (randomisation) --------------------------------------------------
    # Adult ranges: standing height 1.50-1.95 m spans about the 2nd percentile of women
    # to the 98th of men in adult anthropometric surveys; shoulder width +/-15 %
    # (biacromial breadth varies about that much between adults of one height); the
    # lumbar hollow from nearly flat to deep (0.4-1.6 of the reference); tissue from
    # 0.6x to 1.5x the regional stiffness (tissue.LAYERING). docs/env.md has the table.
    randomize: bool = param(True, "Draw a person (build, place, mass, tissue), a pressure "
                            "profile and a stroke from the ranges below at each reset "
                            "(seeded); off: the fixed nominal person (one tissue stiffness "
                            "everywhere, target_force_n constant, the stroke settings above).")
    rand_body_offset_m: float = param(0.03, "Largest body offset along and across the "
                                      "table.", 0.0, 0.1)
    rand_body_height_m: tuple = param((1.50, 1.95), "Range of the standing height "
                                      "(drawn in 2 cm steps).", 1.4, 2.1)
    rand_width_scale: tuple = param((0.85, 1.15), "Range of the shoulder and back width "
                                    "relative to the reference (drawn in 0.05 steps).",
                                    0.7, 1.3)
    rand_back_curvature: tuple = param((0.4, 1.6), "Range of the lumbar hollow's depth "
                                       "relative to the reference (drawn in 0.2 steps).",
                                       0.0, 2.5)
    rand_body_mass_kg: tuple = param((50.0, 110.0), "Range of the body mass.", 40.0, 150.0)
    rand_tissue_scale: tuple = param((0.6, 1.5), "Range of the person's scale on every "
                                     "region's tissue stiffness.", 0.2, 5.0)
    rand_target_force_n: tuple = param((8.0, 30.0), "Range of the base target force.",
                                       0.0, 60.0)
    rand_profiles: str = param("all", "Pressure profiles drawn: all (constant, step and "
                               "rhythmic, equally likely) or only one kind.",
                               choices=("all", "constant", "step", "rhythmic"))
    rand_step_change: float = param(0.4, "Largest step change of the target, as a fraction "
                                    "of the base (up or down; at least a quarter of it).",
                                    0.0, 0.9)
    rand_step_time_s: tuple = param((3.0, 15.0), "Range of the time of the step change.",
                                    0.0, 3600.0)
    rand_rhythm_change: float = param(0.3, "Largest amplitude of a rhythmic target, as a "
                                      "fraction of the base.", 0.0, 0.9)
    rand_rhythm_hz: tuple = param((0.3, 1.0), "Range of the rhythmic target's frequency.",
                                  0.0, 5.0)
    rand_stroke_speed_m_s: tuple = param((0.03, 0.10), "Range of the stroke speed.",
                                         0.005, 0.5)
    rand_spine_offset_m: tuple = param((0.03, 0.07), "Range of the along-spine stroke's "
                                       "offset from the spine.", 0.0, 0.12)
    rand_kneading_amplitude_m: tuple = param((0.0, 0.02), "Range of the kneading "
                                             "amplitude.", 0.0, 0.05)
    rand_kneading_frequency_hz: tuple = param((0.2, 1.0), "Range of the kneading "
                                              "frequency.", 0.0, 5.0)

    # --- rendering --------------------------------------------------------------
    render_width: int = param(320, "Width of rgb_array frames.", 16, 4096)
    render_height: int = param(240, "Height of rgb_array frames.", 16, 4096)

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return int(round(self.physics_hz / self.control_hz))

    @property
    def control_dt_s(self) -> float:
        """Control period [s]."""
        return 1.0 / self.control_hz

    @property
    def max_episode_steps(self) -> int:
        """Control steps until the episode is truncated."""
        return int(round(self.episode_time_s * self.control_hz))

    def check(self) -> None:
        """Raise ValueError for combinations the per-field ranges cannot express."""
        ratio = self.physics_hz / self.control_hz
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"EnvConfig: physics_hz ({self.physics_hz}) must be a whole "
                             f"multiple of control_hz ({self.control_hz})")
        for name in RANGES:
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"EnvConfig.{name}={(low, high)}: low above high")
        if self.force_governor_n >= self.safety_force_limit_n:
            raise ValueError(f"EnvConfig: force_governor_n={self.force_governor_n:g} N must "
                             f"be below safety_force_limit_n={self.safety_force_limit_n:g} N "
                             "(or 0: off)")
        if self.force_governor_margin_n and not self.force_governor_n:
            raise ValueError("EnvConfig: force_governor_margin_n needs the governor on "
                             "(force_governor_n above 0, its cap)")
        if self.action_frame == "world" and self.tangential_action_scale != 1.0:
            raise ValueError("EnvConfig: tangential_action_scale scales the surface frame's "
                             "axes along the surface; it needs action_frame surface")
        if self.max_indentation_m < self.nominal_indentation_m:
            raise ValueError("EnvConfig: max_indentation_m must be >= nominal_indentation_m")
        # Settings under which every episode would end on over-force within a few steps.
        peak = self.rand_target_force_n[1] * (1.0 + max(self.rand_step_change,
                                                         self.rand_rhythm_change))
        targets = [self.target_force_n] + ([peak] if self.randomize else [])
        limit = self.safety_force_limit_n
        if max(targets) >= limit:
            raise ValueError(f"EnvConfig: a target force of {max(targets):g} N is not below "
                             f"safety_force_limit_n={limit:g} N (with randomize: the "
                             "largest base target with its largest profile change): "
                             "episodes would end on over-force")
        stiffness = max([self.tissue_stiffness_n_per_m] + (
            [max_outer_stiffness_n_per_m() * self.rand_tissue_scale[1]]
            if self.randomize else []))
        resting_n = stiffness * self.nominal_indentation_m
        if resting_n >= limit:
            raise ValueError(
                f"EnvConfig: nominal_indentation_m={self.nominal_indentation_m:g} m into "
                f"tissue of {stiffness:g} N/m already presses {resting_n:g} N, not below "
                f"safety_force_limit_n={limit:g} N: a zero action alone ends every episode")
