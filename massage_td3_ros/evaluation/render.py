"""Record one evaluation episode headless (TinyRenderer) with the force drawn on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from massage_td3_ros.env.config import EnvConfig
from massage_td3_ros.evaluation.controllers import Controller
from massage_td3_ros.evaluation.evaluate import EpisodeResult, env_config_for, run_case
from massage_td3_ros.evaluation.suites import SuiteEpisode

BAR_SCALE_N = 50.0  # the force bar spans 0..50 N


def annotate(frame: np.ndarray, force_n: float, target_force_n: float, band_n: float,
             limit_n: float, label: str) -> np.ndarray:
    """The frame with a force bar (target band shaded) and the force as text."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    width, height = image.size
    left, right, top, bottom = 8, width - 8, height - 22, height - 10

    def x_of(value_n: float) -> int:
        return int(left + (right - left) * min(max(value_n / BAR_SCALE_N, 0.0), 1.0))

    draw.rectangle((left, top, right, bottom), fill=(235, 235, 235), outline=(90, 90, 90))
    draw.rectangle((x_of(target_force_n - band_n), top, x_of(target_force_n + band_n), bottom),
                   fill=(170, 220, 170))
    in_band = abs(force_n - target_force_n) <= band_n
    colour = (30, 140, 30) if in_band else ((200, 40, 40) if force_n > target_force_n
                                            else (40, 90, 200))
    draw.rectangle((left, top + 3, x_of(force_n), bottom - 3), fill=colour)
    draw.line((x_of(limit_n), top - 3, x_of(limit_n), bottom + 3), fill=(200, 0, 0), width=2)
    text = f"{label}  force {force_n:5.1f} N  target {target_force_n:.0f}+/-{band_n:.0f} N"
    box = draw.textbbox((left, top - 15), text)
    draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=(255, 255, 255))
    draw.text((left, top - 15), text, fill=(0, 0, 0))
    return np.asarray(image)


def record_episode(controller: Controller, out: str | Path, seed: int = 0,
                   stroke: str = "along_spine", direction: str = "forward",
                   max_frames: int | None = None, frame_every: int = 2,
                   env_config: EnvConfig | None = None, episode: SuiteEpisode | None = None
                   ) -> tuple[Path, int, EpisodeResult]:
    """Run one episode rendering every ``frame_every``-th step (plus the reset) and write
    ``out`` (.gif; .mp4 when imageio has an ffmpeg writer). ``max_frames`` cuts the clip
    (the episode is still run to its end so the metrics are complete). ``episode``: a
    suite's episode instead of ``seed``/``stroke``/``direction``.
    Returns (path, frames written, episode result)."""
    import imageio.v2 as imageio

    from massage_td3_ros.env.massage_env import MassageEnv

    out = Path(out)
    if out.suffix.lower() not in (".gif", ".mp4"):
        raise ValueError(f"{out}: the output must end in .gif or .mp4")
    if frame_every < 1:
        raise ValueError(f"frame_every must be >= 1, got {frame_every}")
    env = MassageEnv(env_config_for(controller, env_config), render_mode="rgb_array")
    cfg = env.config
    frames: list[np.ndarray] = []
    counter = {"step": 0}

    def capture(env_now, info) -> None:
        index = counter["step"]
        counter["step"] += 1
        if index % frame_every or (max_frames is not None and len(frames) >= max_frames):
            return
        frames.append(annotate(env_now.render(), float(info["force_n"]),
                               float(info["target_force_n"]), cfg.force_band_n,
                               cfg.safety_force_limit_n, getattr(controller, "name", "")))

    try:
        if episode is None:
            episode = SuiteEpisode(f"{stroke}/{direction}", seed,
                                   {"stroke": stroke, "direction": direction})
        result = run_case(env, controller, episode, frame_callback=capture)
    finally:
        env.close()
    if not frames:
        raise ValueError("no frames recorded (max_frames must be >= 1)")
    out.parent.mkdir(parents=True, exist_ok=True)
    fps = cfg.control_hz / frame_every
    if out.suffix.lower() == ".mp4":
        try:
            imageio.mimwrite(out, frames, fps=fps, macro_block_size=1)
        except (ImportError, ValueError, RuntimeError) as error:
            raise ValueError(f"{out}: no mp4 writer available ({error}); "
                             "write a .gif or pip install imageio-ffmpeg") from error
    else:
        imageio.mimwrite(out, frames, duration=1000.0 / fps, loop=0)
    return out, len(frames), result
