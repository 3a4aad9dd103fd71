"""ProcessLearner: an OnlineLearner whose gradient updates run in a learner process.

Inline, each step costs the update plus everything else the loop does (a DDS round
trip, decoding the state, acting); on a 2-core machine the update is most of it but not
all. Here the updates run in a child process while this one stores the next
transitions and acts: the loop runs at the update rate. The child owns the
networks and optimisers being trained; this process keeps a mirror of them for
checkpoints and the acting copy of the actor.

What they share, and how nothing is read half-written:
- The replay buffer's arrays live in shared memory. This process writes them; the child
  samples only the first ``size`` slots a request names and never the ``in_flight`` slots
  the next stores fill (``ReplayBuffer.sample(avoid_next=...)``), and a store that would
  go further first waits for the oldest request.
- The actor's weights: the child writes a request's into one of ``in_flight`` slots, and
  this process copies them into the acting policy once it has collected that request,
  before it sends the request that reuses the slot.
- Everything else goes over a socket pair (plain pickle): requests (run ``count``
  updates), replies (their losses, the actor slot, or why they failed), and, at
  checkpoints, the full training state.

The schedule is the inline one but for a lag: the updates due after a state are sent
at once, the child runs them while this process acts on the next states, and they are
collected ``in_flight`` states later (train.learner_in_flight), so an action comes
from the weights of updates due up to that many states before; the same seed gives the
same run. With 2 the child finds the next request waiting when it finishes one, so it
never sleeps between updates while states come (a process wake-up costs about a
millisecond on a virtual machine); more also covers the gaps when none come (a reset
of the env, a slow round trip).

The lag is part of the run's state. ``locked()`` (a checkpoint) waits for the child's
answers but keeps them queued, to be acted on when they would have been collected, and
pulls the child's state (networks, optimisers, buffer and torch RNG states) into the
mirror, pushing it back on exit; a checkpoint also saves the acting actor and that queue
(``get_lag``). Where checkpoints fall then changes no action, and a resumed or extended
run acts as the uninterrupted one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import pickle
import socket
import subprocess
import sys
import traceback
from collections import deque
from collections.abc import Iterator
from multiprocessing import resource_tracker, shared_memory
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch
from torch.nn.utils import parameters_to_vector

from massage_td3_ros.params import from_dict, to_dict
from massage_td3_ros.td3.agent import TD3, use_torch_threads
from massage_td3_ros.td3.config import TD3Config
from massage_td3_ros.td3.replay_buffer import ReplayBuffer
from massage_td3_ros.training.config import TrainConfig
from massage_td3_ros.training.learner import OnlineLearner, losses_failure

LOG = logging.getLogger("massage_td3_ros.training")
AT_CHILD = object()   # an in-flight entry's answer, not received yet
POLL_S = 1.0   # how often a wait for the child checks that it is still alive
STOP_S = 10.0  # how long close() lets the child finish before killing it


class LearnerProcessError(RuntimeError):
    """The learner process failed or died; the run cannot continue."""


class SharedArrays:
    """Named float32 arrays in one shared-memory block (created, or attached by name)."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], name: str | None = None) -> None:
        self.shapes = dict(shapes)
        sizes = {key: int(np.prod(shape)) * 4 for key, shape in self.shapes.items()}
        self.block = shared_memory.SharedMemory(name=name, create=name is None,
                                                size=max(1, sum(sizes.values())))
        if name is not None:
            # Attached, not owned: without this, Python < 3.13's resource tracker of this
            # process would remove the block when this process exits, under its owner.
            resource_tracker.unregister(self.block._name, "shared_memory")
        self.arrays: dict[str, np.ndarray] = {}
        offset = 0
        for key, shape in self.shapes.items():
            self.arrays[key] = np.ndarray(shape, np.float32, self.block.buf, offset)
            offset += sizes[key]

    def close(self, unlink: bool = False) -> None:
        self.arrays.clear()   # no view may outlive the mapping
        self.block.close()
        if unlink:
            self.block.unlink()


def _send(conn: Connection, message: Any) -> None:
    # Plain pickle: multiprocessing's (which torch extends) would send tensors as file
    # descriptors through a server this process pair does not share.
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _receive(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


def _shapes(capacity: int, obs_dim: int, act_dim: int, actor_size: int, in_flight: int
            ) -> dict[str, tuple[int, ...]]:
    # One actor slot per request in flight: the child writes request n's weights into
    # slot n % in_flight, which this process reads before it sends request n + in_flight.
    return {**ReplayBuffer.shapes(capacity, obs_dim, act_dim),
            **{f"actor{slot}": (actor_size,) for slot in range(in_flight)}}


class ProcessLearner(OnlineLearner):
    """OnlineLearner with its updates in a child process; see the module docstring."""

    def __init__(self, obs_dim: int, act_dim: int, td3_cfg: TD3Config | None = None,
                 exploration_cfg=None, train_cfg=None) -> None:
        self.max_in_flight = (train_cfg or TrainConfig()).learner_in_flight
        self._shared: SharedArrays | None = None
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        super().__init__(obs_dim, act_dim, td3_cfg, exploration_cfg, train_cfg)
        # Per request not collected yet, oldest first: [transitions stored since it was
        # sent (at most in_flight: the slots it does not read), its answer: AT_CHILD
        # until received, then the actor to act with once collected, or None].
        self._in_flight: deque[list] = deque()
        self._finished: list[tuple[int, dict[str, float]]] = []   # collected, not yet run
        try:
            self._start_child()
        except BaseException:
            self.close()
            raise
        LOG.info("gradient updates run in learner process %d", self._process.pid)

    def _start_child(self) -> None:
        # A fresh interpreter running this module (not a fork of a process with DDS
        # threads, nor multiprocessing's spawn, which re-runs the caller's main script),
        # talking over a socket pair only the two of them hold.
        mine, theirs = socket.socketpair()
        with mine, theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),))
            self._conn = Connection(mine.detach())
        _send(self._conn, {"obs_dim": self.obs_dim, "act_dim": self.act_dim,
                           "capacity": self.buffer.capacity, "td3": to_dict(self._child_td3()),
                           "shared": self._shared.block.name, "shapes": self._shared.shapes,
                           "in_flight": self.max_in_flight,
                           "deterministic": torch.are_deterministic_algorithms_enabled()})
        self._expect("ready")
        self._push_state()   # the child starts from this process's weights and RNG states

    def _child_td3(self) -> TD3Config:
        """The child's TD3 settings: this process's, with td3.precision auto resolved as
        it was here (timed once, here), so that both multiply in the same dtype."""
        dtype = self.agent.matmul_dtype
        return dataclasses.replace(
            self.td3_cfg, precision="bfloat16" if dtype == torch.bfloat16 else "float32")

    def _make_buffer(self, capacity: int, rng: np.random.Generator) -> ReplayBuffer:
        actor_size = parameters_to_vector(self.agent.actor.parameters()).numel()
        self._shared = SharedArrays(_shapes(capacity, self.obs_dim, self.act_dim, actor_size,
                                            self.max_in_flight))
        return ReplayBuffer(capacity, self.obs_dim, self.act_dim, rng, self.agent.device,
                            storage=self._shared.arrays)

    # ---------------------------------------------------------------- the child link
    def _receive(self) -> tuple:
        while not self._conn.poll(POLL_S):
            if self._process.poll() is not None:
                raise LearnerProcessError(f"the learner process died (exit code "
                                          f"{self._process.returncode})")
        try:
            reply = _receive(self._conn)
        except (EOFError, OSError):
            raise LearnerProcessError("the learner process closed its connection") from None
        if reply[0] == "error":
            raise LearnerProcessError(f"the learner process failed:\n{reply[1]}")
        return reply

    def _request(self, message: tuple) -> None:
        try:
            _send(self._conn, message)
        except OSError as error:   # the child's end is closed: it died
            try:
                code = self._process.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                code = None
            raise LearnerProcessError(f"the learner process died (exit code {code}; "
                                      f"sending to it failed: {error})") from None

    def _expect(self, kind: str) -> tuple:
        reply = self._receive()
        if reply[0] != kind:
            raise LearnerProcessError(f"learner process answered {reply[0]!r}, not {kind!r}")
        return reply

    def _collect(self, keep: int = 0) -> None:
        """Collect the oldest requests until ``keep`` remain: their answers (waited for
        if need be), then the acting actor refreshed with theirs."""
        while len(self._in_flight) > keep:
            entry = self._in_flight[0]
            if entry[1] is AT_CHILD:
                self._receive_answer(entry)
            self._in_flight.popleft()
            if entry[1] is not None:
                self.policy.refresh_from_vector(entry[1])

    def _receive_answer(self, entry: list) -> None:
        """The child's answer to ``entry``'s request: its losses, and a copy of its
        actor (the slot is reused in_flight requests later)."""
        _, losses, failure, slot = self._expect("done")
        for row in losses:
            self.updates += 1
            self._finished.append((self.updates, row))
        entry[1] = (None if slot is None else
                    torch.from_numpy(self._shared.arrays[f"actor{slot}"].copy()))
        if failure is not None:
            self._fail(failure)

    def _settle(self) -> None:
        """Receive every answer the child owes, in order; the entries stay queued, so the
        acting actor changes when it would have."""
        for entry in self._in_flight:
            if entry[1] is AT_CHILD:
                self._receive_answer(entry)

    def get_lag(self) -> dict[str, Any]:
        """The acting actor and the answers queued for it (inside ``locked``), for a
        checkpoint."""
        return {"acting": parameters_to_vector(self.policy.actor.parameters()).detach().clone(),
                "queued": [[stored, actor] for stored, actor in self._in_flight]}

    def set_lag(self, lag: dict[str, Any] | None) -> None:
        """Restore :meth:`get_lag` (inside ``locked``, where every answer is in); None (a
        checkpoint from before it was saved, or of an inline run): act with the loaded
        actor at once. Either way the answers queued before the load are dropped: they
        belong to the weights the load replaced."""
        if lag is None:
            self._in_flight = deque()
            return
        self.policy.refresh_from_vector(lag["acting"])
        self._in_flight = deque([int(stored), actor] for stored, actor in lag["queued"])

    def _pull_state(self) -> None:
        self._request(("get_state",))
        _, agent_state, buffer_rng, torch_rng = self._expect("state")
        self.agent.load_state_dict(agent_state)
        self.buffer.rng.bit_generator.state = buffer_rng
        torch.set_rng_state(torch_rng)

    def _push_state(self) -> None:
        self._request(("set_state", self.agent.state_dict(),
                       self.buffer.rng.bit_generator.state, torch.get_rng_state()))
        self._expect("ok")

    # ---------------------------------------------------------------- OnlineLearner
    def _store(self, pending, state, next_obs) -> None:
        while self._in_flight and self._in_flight[0][0] >= self.max_in_flight:
            self._collect(keep=len(self._in_flight) - 1)   # it may read this store's slot
        super()._store(pending, state, next_obs)
        for stored in self._in_flight:
            stored[0] += 1

    def update_once(self) -> dict[str, float] | None:
        raise NotImplementedError("a ProcessLearner runs its updates with run_updates()")

    def run_updates(self) -> Iterator[tuple[int, dict[str, float]]]:
        """Collect the updates dispatched before (yielded), then dispatch those now due."""
        with self._buffer_lock:
            if self.failure is not None:
                self._fail(self.failure)
            self._collect(keep=self.max_in_flight - 1)
            finished, self._finished = self._finished, []
            count = int(self.updates_due)
            if count >= 1:
                self.updates_due -= count
                self._request(("update", count, self.buffer.size, self.buffer.ptr))
                self._in_flight.append([0, AT_CHILD])
        yield from finished

    def drain(self) -> Iterator[tuple[int, dict[str, float]]]:
        """Wait for the child's answers; yield every update not yielded yet."""
        with self._buffer_lock:
            self._settle()
            finished, self._finished = self._finished, []
        yield from finished

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The child idle and its state in the mirror while inside; pushed back after."""
        with super().locked():
            self._settle()
            self._pull_state()
            yield
            self._push_state()

    def close(self) -> None:
        """Stop the child and free the shared memory (idempotent)."""
        if self._conn is not None:
            with contextlib.suppress(OSError):
                _send(self._conn, ("stop",))
            self._conn.close()
            self._conn = None
        if self._process is not None:
            try:
                self._process.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._shared is not None:
            self.buffer.own_storage()   # the run's transitions stay readable after close
            self._shared.close(unlink=True)
            self._shared = None


def serve(conn: Connection) -> None:
    """The learner process: answer requests until told to stop (or the parent goes)."""
    shared = buffer = actor_slots = None
    try:
        spec = _receive(conn)
        td3_cfg = from_dict(TD3Config, spec["td3"])
        use_torch_threads(td3_cfg.torch_threads)
        torch.use_deterministic_algorithms(spec["deterministic"])
        agent = TD3(spec["obs_dim"], spec["act_dim"], td3_cfg)
        shared = SharedArrays(spec["shapes"], name=spec["shared"])
        buffer = ReplayBuffer(spec["capacity"], spec["obs_dim"], spec["act_dim"],
                              np.random.default_rng(), agent.device, storage=shared.arrays)
        in_flight = spec["in_flight"]
        actor_slots = [torch.from_numpy(shared.arrays[f"actor{slot}"])
                       for slot in range(in_flight)]
        failure, requests = None, 0
        _send(conn, ("ready",))
        while True:
            try:
                request = _receive(conn)
            except EOFError:
                return   # the parent went away
            kind = request[0]
            if kind == "update":
                _, count, buffer.size, buffer.ptr = request
                losses, slot = [], None
                for _ in range(count if failure is None else 0):
                    row = agent.train(buffer.sample(td3_cfg.batch_size, avoid_next=in_flight))
                    failure = losses_failure(row, f"gradient update {agent.critic_updates}")
                    if failure is not None:
                        break
                    losses.append(row)
                if failure is None and any("actor_loss" in row for row in losses):
                    slot = requests % in_flight
                    actor_slots[slot].copy_(parameters_to_vector(agent.actor.parameters()))
                requests += 1
                _send(conn, ("done", losses, failure, slot))
            elif kind == "get_state":
                _send(conn, ("state", agent.state_dict(), buffer.rng.bit_generator.state,
                             torch.get_rng_state()))
            elif kind == "set_state":
                _, agent_state, buffer.rng.bit_generator.state, torch_rng = request
                agent.load_state_dict(agent_state)
                torch.set_rng_state(torch_rng)
                _send(conn, ("ok",))
            elif kind == "stop":
                return
            else:
                raise ValueError(f"unknown request {kind!r}")
    except Exception:  # noqa: BLE001 - the parent reports it; nothing else can
        with contextlib.suppress(OSError, BrokenPipeError):
            _send(conn, ("error", traceback.format_exc()))
    finally:
        buffer = actor_slots = None   # views into the block: gone before it closes
        if shared is not None:
            shared.close()
        conn.close()


__all__ = ["LearnerProcessError", "ProcessLearner", "SharedArrays"]

if __name__ == "__main__":   # started by ProcessLearner with its end of the socket pair
    serve(Connection(int(sys.argv[1])))
