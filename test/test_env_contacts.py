"""Wrong-link contacts and the debug helpers."""

import numpy as np

from massage_td3_ros.env.contact import Contact, LinkFilter
from massage_td3_ros.env.massage_env import MassageEnv


def test_wrong_link_contact_is_detected_and_penalised():
    env = MassageEnv(randomize=False)
    env.reset(seed=0)
    _, _, _, _, clean = env.step(np.zeros(3))
    assert clean["wrong_link_contact"] == 0.0
    assert clean["reward_terms"]["wrong_link"] == 0.0
    # Slide the person towards the arm: the arm's lower links meet the person's arm.
    env.scene.place_body(env.scene.body_origin_m + np.array([0.0, -0.3, 0.0]))
    _, reward, _, _, info = env.step(np.zeros(3))
    assert info["wrong_link_contact"] == 1.0
    assert info["contact_link"] not in (-1.0, -2.0)
    assert info["reward_terms"]["wrong_link"] == -env.config.reward_wrong_link_weight
    by_link = env.debug_arm_link_contacts()
    touching = [link for link, items in by_link.items() if items]
    assert touching and env.scene.arm.tool_link not in touching
    assert all(isinstance(c, Contact) for c in by_link[touching[0]])
    env.close()


def test_debug_helpers_return_structured_data(capsys):
    env = MassageEnv(randomize=False)
    env.reset(seed=0)
    for _ in range(10):
        env.step(np.array([0.0, 0.0, -0.3]))
    tool = env.debug_tool_contacts(verbose=True)
    assert tool and all(c.arm_link == env.scene.arm.tool_link for c in tool)
    assert all(c.normal_force_n >= 0 for c in tool) and any(c.normal_force_n > 0 for c in tool)
    filters = env.debug_collision_filters(verbose=True)
    assert all(isinstance(f, LinkFilter) for f in filters)
    assert len(filters) == len(env.scene.arm.link_names) + 1  # links and base
    assert all(f.collides_with_body for f in filters)
    links = env.debug_arm_link_contacts(verbose=True)
    assert set(links) == set(range(-1, len(env.scene.arm.link_names)))
    assert "tool contacts" in capsys.readouterr().out
    env.close()


def test_snapshot_and_path_reference():
    env = MassageEnv(randomize=False)
    env.reset(seed=0)
    env.step(np.array([0.0, 0.0, -0.3]))
    snap = env.snapshot()
    assert snap.dt_s == env.dt_s and len(snap.joint_names) == 7
    assert snap.joint_pos_rad.shape == (7,) and snap.joint_effort_nm.shape == (7,)
    assert np.isclose(np.linalg.norm(snap.tool_quat_xyzw), 1.0)
    assert snap.force_n > 0 and snap.contacts
    ref = env.path_reference()
    assert np.isclose(np.linalg.norm(ref.normal), 1.0) and ref.normal[2] > 0.5
    assert np.linalg.norm(snap.tool_pos_m - ref.target_m) < 0.02
    env.close()
