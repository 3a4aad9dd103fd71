"""TD3 agent: target-policy smoothing, delayed actor updates, Polyak arithmetic, bootstrap."""

import copy

import numpy as np
import pytest
import torch

from massage_td3_ros.td3.agent import TD3, polyak_update, resolve_device, target_action
from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.networks import Actor, Critic
from massage_td3_ros.td3.policy import Policy
from massage_td3_ros.td3.replay_buffer import Batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


SMALL = TD3Config(actor_hidden=(16, 16), critic_hidden=(16, 16), batch_size=8)


def random_batch(obs_dim=3, act_dim=2, size=8, seed=0, terminated=0.0):
    gen = torch.Generator().manual_seed(seed)
    return Batch(obs=torch.randn(size, obs_dim, generator=gen),
                 action=torch.rand(size, act_dim, generator=gen) * 2 - 1,
                 reward=torch.randn(size, 1, generator=gen),
                 next_obs=torch.randn(size, obs_dim, generator=gen),
                 terminated=torch.full((size, 1), terminated))


def test_networks_shapes_and_action_bound():
    actor, critic = Actor(5, 3, (32, 32), max_action=2.0), Critic(5, 3, (32, 32))
    obs = torch.randn(7, 5) * 100
    action = actor(obs)
    assert action.shape == (7, 3) and action.abs().max() <= 2.0
    q1, q2 = critic(obs, action)
    assert q1.shape == q2.shape == (7, 1)
    assert not torch.equal(q1, q2)  # two independent heads
    # Q1 alone (one addmm per layer) and Q1 of the batched pair agree up to rounding.
    torch.testing.assert_close(critic.q1_value(obs, action), q1, rtol=1e-5, atol=1e-5)


def test_target_noise_is_clipped_and_action_bounded():
    torch.manual_seed(0)
    actor = Actor(3, 2, (8,), max_action=1.0)
    with torch.no_grad():  # an actor that always outputs 0: the result is the noise alone
        for p in actor.net[-1].parameters():
            p.zero_()
    noisy = target_action(actor, torch.randn(5000, 3), policy_noise=5.0, noise_clip=0.5,
                          max_action=1.0)
    assert noisy.abs().max().item() == pytest.approx(0.5)
    assert (noisy.abs() == 0.5).float().mean() > 0.5  # std 5 >> clip: most are clipped
    with torch.no_grad():  # an actor saturated at +max_action: clamp keeps it in range
        actor.net[-1].bias.fill_(100.0)
    saturated = target_action(actor, torch.randn(1000, 3), 0.2, 0.5, 1.0)
    assert saturated.max() <= 1.0 and saturated.min() >= 0.5 - 1e-6


def test_actor_updated_once_per_policy_freq_critic_updates():
    agent = TD3(3, 2, TD3Config(actor_hidden=(16,), critic_hidden=(16,), policy_freq=3))
    actor_changes = []
    for i in range(9):
        before = [p.clone() for p in agent.actor.parameters()]
        losses = agent.train(random_batch(seed=i))
        changed = any(not torch.equal(a, b) for a, b in zip(before, agent.actor.parameters()))
        actor_changes.append(changed)
        assert ("actor_loss" in losses) == changed
    assert actor_changes == [False, False, True] * 3
    assert agent.critic_updates == 9 and agent.actor_updates == 3


def test_polyak_update_arithmetic():
    source = [torch.tensor([1.0, 2.0]), torch.tensor([[4.0]])]
    target = [torch.tensor([3.0, -2.0]), torch.tensor([[0.0]])]
    polyak_update(source, target, tau=0.25)
    assert torch.allclose(target[0], torch.tensor([2.5, -1.0]))
    assert torch.allclose(target[1], torch.tensor([[1.0]]))


def test_targets_follow_online_networks_by_tau_after_actor_update():
    agent = TD3(3, 2, TD3Config(actor_hidden=(16,), critic_hidden=(16,), policy_freq=1,
                                tau=0.1))
    old_target = [p.clone() for p in agent.critic_target.parameters()]
    agent.train(random_batch())
    for online, target, old in zip(agent.critic.parameters(),
                                   agent.critic_target.parameters(), old_target):
        assert torch.allclose(target, 0.1 * online + 0.9 * old, atol=1e-6)


def test_terminal_transitions_do_not_bootstrap_truncated_ones_do():
    def critic_target_value(terminated):
        torch.manual_seed(0)
        agent = TD3(3, 2, TD3Config(actor_hidden=(16,), critic_hidden=(16,), lr_critic=1e-9,
                                    gamma=0.9, precision="float32"))  # the exact maths
        with torch.no_grad():  # target critics that always say 10
            last = agent.critic_target.layers[-1]  # both Q networks' last layers
            last.weight.zero_()
            last.bias.fill_(10.0)
        batch = random_batch(terminated=terminated)
        q1, q2 = agent.critic(batch.obs, batch.action)
        loss = agent.train(batch)["critic_loss"]
        return loss, q1.detach(), q2.detach(), batch.reward

    loss, q1, q2, reward = critic_target_value(1.0)
    expected = ((q1 - reward) ** 2).mean() + ((q2 - reward) ** 2).mean()
    assert loss == pytest.approx(expected.item(), rel=1e-5)
    loss, q1, q2, reward = critic_target_value(0.0)  # e.g. a time-limit cut: r + 0.9 * 10
    expected = ((q1 - reward - 9.0) ** 2).mean() + ((q2 - reward - 9.0) ** 2).mean()
    assert loss == pytest.approx(expected.item(), rel=1e-5)


def test_state_dict_round_trip_acts_alike():
    agent = TD3(3, 2, SMALL)
    for i in range(4):
        agent.train(random_batch(seed=i))
    other = TD3(3, 2, SMALL)
    other.load_state_dict(agent.state_dict())
    obs = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    action = Policy(agent.actor).act(obs)
    assert np.array_equal(action, Policy(other.actor).act(obs)) and action.dtype == np.float32
    assert other.critic_updates == 4 and other.actor_updates == 2


def test_cuda_requested_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="cuda"):
        resolve_device("cuda")


def test_bfloat16_matmuls_keep_float32_state_and_track_the_float32_update():
    """The fast path rounds only the matrix products: weights, optimiser state and the
    loss stay float32, and one update lands close to the float32 one."""
    from massage_td3_ros.td3.agent import matmul_dtype
    from massage_td3_ros.td3.cpu import has_fast_bfloat16

    cpu = torch.device("cpu")
    assert matmul_dtype("float32", cpu) == torch.float32
    assert matmul_dtype("bfloat16", cpu) == torch.bfloat16
    assert matmul_dtype("auto", cpu) == (torch.bfloat16 if has_fast_bfloat16()
                                         else torch.float32)
    agents = {}
    for precision in ("float32", "bfloat16"):
        torch.manual_seed(0)
        agents[precision] = TD3(3, 2, TD3Config(actor_hidden=(64, 64), critic_hidden=(64, 64),
                                                policy_freq=1, precision=precision))
    losses = {p: agents[p].train(random_batch(seed=3)) for p in agents}
    fast, exact = agents["bfloat16"], agents["float32"]
    assert all(t.dtype == torch.float32 for t in fast.critic.parameters())
    state = fast.critic_optimizer.state_dict()["state"]
    assert all(v.dtype == torch.float32 for s in state.values() for k, v in s.items()
               if k != "step")
    for name in ("critic_loss", "actor_loss", "q_mean"):
        assert np.isfinite(losses["bfloat16"][name])
        assert losses["bfloat16"][name] == pytest.approx(losses["float32"][name], rel=0.03,
                                                         abs=1e-3), name
    # One Adam step moves each weight by about lr whatever the gradient's rounding.
    for a, b in zip(fast.critic.parameters(), exact.critic.parameters()):
        assert torch.allclose(a, b, atol=2 * fast.config.lr_critic + 1e-6)


def test_one_update_is_the_textbook_update():
    """Batched critic, fused Adam, actor-only backward and foreach Polyak change how the
    update runs, not what it computes: a plain float32 TD3 step gives the same weights."""
    config = TD3Config(actor_hidden=(16, 16), critic_hidden=(16, 16), policy_freq=1,
                       precision="float32")
    torch.manual_seed(0)
    agent = TD3(3, 2, config)
    plain = copy.deepcopy(agent)
    plain.actor_optimizer = torch.optim.Adam(plain.actor.parameters(), lr=config.lr_actor)
    plain.critic_optimizer = torch.optim.Adam(plain.critic.parameters(), lr=config.lr_critic)
    batch = random_batch(seed=3)
    torch.manual_seed(1)
    agent.train(batch)
    torch.manual_seed(1)
    with torch.no_grad():
        next_action = target_action(plain.actor_target, batch.next_obs, config.policy_noise,
                                    config.noise_clip, config.max_action)
        target_q = batch.reward + config.gamma * (1 - batch.terminated) * torch.min(
            *plain.critic_target(batch.next_obs, next_action))
    q1, q2 = plain.critic(batch.obs, batch.action)
    critic_loss = ((q1 - target_q) ** 2).mean() + ((q2 - target_q) ** 2).mean()
    plain.critic_optimizer.zero_grad()
    critic_loss.backward()
    plain.critic_optimizer.step()
    actor_loss = -plain.critic(batch.obs, plain.actor(batch.obs))[0].mean()
    plain.actor_optimizer.zero_grad()
    actor_loss.backward()
    plain.actor_optimizer.step()
    for net, target in (("critic", "critic_target"), ("actor", "actor_target")):
        for p, t in zip(getattr(plain, net).parameters(), getattr(plain, target).parameters()):
            t.data.copy_(config.tau * p.data + (1 - config.tau) * t.data)
    for name in ("actor", "critic", "actor_target", "critic_target"):
        for got, want in zip(getattr(agent, name).parameters(),
                             getattr(plain, name).parameters(), strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def actor_after_one_actor_update(config: TD3Config, batch: Batch) -> list[torch.Tensor]:
    torch.manual_seed(0)
    agent = TD3(3, 2, config)
    for _ in range(config.policy_freq):
        agent.train(batch)
    return [p.detach().clone() for p in agent.actor.parameters()]


def test_temporal_smoothness_pulls_the_actor_only_where_the_state_changes():
    plain = TD3Config(actor_hidden=(16,), critic_hidden=(16,), precision="float32")
    smooth = TD3Config(**{**plain.__dict__, "smooth_temporal": 10.0})
    still = random_batch(seed=3)
    still = Batch(still.obs, still.action, still.reward, still.obs, still.terminated)
    # s' == s: the term is 0 and so is its gradient: the very same update as without it
    for a, b in zip(actor_after_one_actor_update(plain, still),
                    actor_after_one_actor_update(smooth, still), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    moving = random_batch(seed=3)
    assert any(not torch.equal(a, b) for a, b in zip(
        actor_after_one_actor_update(plain, moving), actor_after_one_actor_update(smooth, moving)))


def test_smoothness_terms_lower_the_action_differences_they_penalise():
    # Only the smoothness terms (a zero critic makes the Q term constant): the actor
    # learns to answer s and s' (and s + noise) alike.
    config = TD3Config(actor_hidden=(32,), critic_hidden=(8,), precision="float32",
                       policy_freq=1, lr_actor=1e-2, lr_critic=1e-12, smooth_temporal=1.0,
                       smooth_spatial=1.0)
    torch.manual_seed(1)
    agent = TD3(3, 2, config)
    with torch.no_grad():
        for p in agent.critic.parameters():
            p.zero_()
    batch = random_batch(seed=4, size=64)

    def gap() -> float:
        with torch.no_grad():
            return float((agent.actor(batch.obs) - agent.actor(batch.next_obs)).norm(dim=1).mean())
    before = gap()
    for _ in range(200):
        agent.train(batch)
    assert gap() < 0.2 * before, (before, gap())


def one_actor_step_after_the_model_fits(config, batch, seed, key, measure):
    """Critic-only updates until the next one also updates the actor (the one-step model
    ``key`` fits the batch meanwhile); then, with the critic zeroed (its Q gradient
    nearly 0), that one actor update. Returns ``measure(actor)`` before and after it."""
    torch.manual_seed(seed)
    agent = TD3(3, 2, config)
    for _ in range(config.policy_freq - 1):
        losses = agent.train(batch)
    assert "actor_loss" not in losses and losses[f"{key}_loss"] < 0.01
    with torch.no_grad():
        for p in agent.critic.parameters():
            p.zero_()
        before = measure(agent.actor).clone()
    assert "actor_loss" in agent.train(batch)
    with torch.no_grad():
        return before, measure(agent.actor)


def test_reward_model_learns_the_reward_and_pulls_the_actor_up_it():
    # Rewards rise with the first action entry. The reward model fits them over the
    # critic-only updates; then, with the critic zeroed (its Q gradient nearly 0), the one
    # actor update moves the actor up the model's slope.
    config = TD3Config(actor_hidden=(16,), critic_hidden=(16,), precision="float32",
                       policy_freq=200, lr_critic=3e-3, lr_actor=1e-2,
                       reward_model_weight=10.0)
    batch = random_batch(seed=5, size=64)
    batch = Batch(batch.obs, batch.action, batch.action[:, :1].clone(), batch.next_obs,
                  batch.terminated)
    before, after = one_actor_step_after_the_model_fits(
        config, batch, 2, "reward_model", lambda actor: actor(batch.obs)[:, 0])
    assert (after - before).mean() > 0.02, (after - before).mean()
    assert TD3(3, 2, SMALL).one_step_models == []  # off by default: no model, no loss
    assert "reward_model_loss" not in TD3(3, 2, SMALL).train(random_batch())


@pytest.mark.parametrize("kept", [0.0, 0.5])
def test_tracking_model_learns_the_entry_change_and_pulls_the_actor_to_its_aim(kept):
    # The tracked entry (obs[2], an error) changes by the first action entry: the next
    # error is obs[2] + a[0]. The model fits that over the critic-only updates; then,
    # with the critic zeroed, the actor update moves a[0] towards -(1 - kept) obs[2]
    # (the action whose predicted next error is kept x the current one).
    config = TD3Config(actor_hidden=(16,), critic_hidden=(16,), precision="float32",
                       policy_freq=300, lr_critic=3e-3, lr_actor=1e-2,
                       tracking_model_weight=30.0, tracking_entry=2,
                       tracking_error_kept=kept)
    batch = random_batch(seed=6, size=128)
    obs = batch.obs.clone()
    obs[:, 2] = obs[:, 2].clamp(-0.9, 0.9)
    next_obs = batch.next_obs.clone()
    next_obs[:, 2] = obs[:, 2] + batch.action[:, 0]
    batch = Batch(obs, batch.action, batch.reward, next_obs, batch.terminated)
    before, after = one_actor_step_after_the_model_fits(
        config, batch, 3, "tracking_model",
        lambda actor: ((1.0 - kept) * obs[:, 2] + actor(obs)[:, 0]).square().mean())
    assert after < 0.9 * before, (before, after)


def test_the_tracking_term_is_zero_where_the_error_kept_is_reached():
    obs = torch.tensor([[0.0, 0.0, 0.8], [0.0, 0.0, -0.4]])
    for kept in (0.0, 0.25, 0.5):
        model = TD3(3, 2, TD3Config(tracking_model_weight=2.0, tracking_entry=2,
                                    tracking_error_kept=kept)).model("tracking_model")
        aim = -(1.0 - kept) * obs[:, 2:]          # the predicted change that keeps `kept`
        assert model.term(obs, aim).item() == pytest.approx(0.0, abs=1e-12)
        assert model.term(obs, aim + 0.1).item() == pytest.approx(2.0 * 0.01)
        assert torch.allclose(model.term_grad(obs, aim + 0.1), torch.full((2, 1), 0.2))


def test_tracking_entry_must_index_the_observation():
    with pytest.raises(ValueError, match="tracking_entry is -1"):
        TD3(3, 2, TD3Config(tracking_model_weight=1.0))
    with pytest.raises(ValueError, match="0-2"):
        TD3(3, 2, TD3Config(tracking_model_weight=1.0, tracking_entry=3))


def test_the_documented_tracking_entry_is_the_force_error():
    from massage_td3_ros.env.observation import observation_slices
    index = observation_slices()["force_error"].start
    assert f"force error is entry {index}" in TD3Config.__dataclass_fields__[
        "tracking_entry"].metadata["description"]


@pytest.mark.parametrize(("key", "options"), [
    ("reward_model", {"reward_model_weight": 5.0}),
    ("tracking_model", {"tracking_model_weight": 5.0, "tracking_entry": 1})])
def test_one_step_model_is_saved_and_a_mismatch_is_refused(key, options):
    config = TD3Config(**{**SMALL.__dict__, **options})
    agent = TD3(3, 2, config)
    for i in range(4):
        agent.train(random_batch(seed=i))
    other = TD3(3, 2, config)
    other.load_state_dict(agent.state_dict())
    mine, theirs = agent.model(key), other.model(key)
    for a, b in zip(mine.network.parameters(), theirs.network.parameters(), strict=True):
        assert torch.equal(a, b)
    assert theirs.optimizer.state_dict()["state"].keys() == \
        mine.optimizer.state_dict()["state"].keys()
    name = key.replace("_", " ")
    with pytest.raises(ValueError, match=f"has a {name} and this one has none"):
        TD3(3, 2, SMALL).load_state_dict(agent.state_dict())
    with pytest.raises(ValueError, match=next(iter(options))):
        other.load_state_dict(TD3(3, 2, SMALL).state_dict())


def test_updates_flush_denormal_moments():
    """An input that goes silent leaves its weights' Adam first moments decaying by beta1
    per update into the denormal range, where x86 arithmetic is many times slower (the
    fused Adam step measured 9x slower). The update flushes them to zero instead."""
    from massage_td3_ros.td3.cpu import flushed_denormals

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    tiny = torch.finfo(torch.float32).tiny
    torch.manual_seed(0)
    agent = TD3(3, 2, TD3Config(actor_hidden=(16, 16), critic_hidden=(16, 16), batch_size=8))
    for update in range(860):
        batch = random_batch(seed=update)
        if update >= 10:   # input 0 silent from now on: its weights' gradients are 0
            batch.obs[:, 0] = 0.0
            batch.next_obs[:, 0] = 0.0
        agent.train(batch)
    optimizers = [agent.critic_optimizer, agent.actor_optimizer]
    moments = [state["exp_avg"] for opt in optimizers for state in opt.state.values()]
    denormal = sum(int(((m != 0) & (m.abs() < tiny)).sum()) for m in moments)
    assert denormal == 0
    # the silent input's first-layer moments did decay away: flushed, not still normal
    assert float(agent.critic.layers[0].weight.grad[:, 0].abs().max()) == 0.0
    assert float(agent.critic_optimizer.state[agent.critic.layers[0].weight]["exp_avg"][:, 0]
                 .abs().max()) == 0.0
    # and the flag is this update's only: off again outside it
    assert torch.tensor([1e-39]).mul(1.0).item() != 0.0
    with flushed_denormals():
        assert torch.tensor([1e-39]).mul(1.0).item() == 0.0
    assert torch.tensor([1e-39]).mul(1.0).item() != 0.0
