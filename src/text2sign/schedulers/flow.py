"""A plain Euler ODE solver for rectified flow (t = 0: noise, t = 1: data).

Why not diffusers' ``FlowMatchEulerDiscreteScheduler`` or Meta's ``flow_matching``: neither is
in the core install (diffusers pulls in huggingface-hub, safetensors pins and its own config
machinery for what is, with our time convention, ``z += h * v`` on a uniform grid), and a
distilled student needs the step size as an input, which their step loops do not pass. The
solver below is that update, with a hook for guidance that only acts on a window of steps; with
diffusers installed, ``tests/schedulers/test_flow.py`` checks it against
``FlowMatchEulerDiscreteScheduler`` on the same grid (diffusers 0.35.1: equal within 1e-5).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Velocity = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
Guide = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def euler_sample(
    velocity: Velocity,
    z: torch.Tensor,
    steps: int,
    *,
    begin: int = 0,
    stop: int | None = None,
    guide: Guide | None = None,
    guide_window: tuple[float, float] = (0.0, 1.0),
    step_input: bool = False,
) -> torch.Tensor:
    """Integrate ``dz/dt = velocity(z, t, h)`` from step `begin` to `stop` of a `steps`-step uniform
    grid on [0, 1]. `t` and `h` are ``(B,)``; `h` is 0 unless `step_input` (a distilled student
    reads the step it jumps). `guide(z, t)` is added to the velocity on steps whose time lies in
    `guide_window` (fractions of the trajectory), e.g. minus a sync loss's gradient."""
    stop = steps if stop is None else stop
    h = 1.0 / steps
    b = z.shape[0]
    for i in range(begin, stop):
        t = torch.full((b,), i * h, device=z.device)
        step = torch.full((b,), h if step_input else 0.0, device=z.device)
        v = velocity(z, t, step)
        if guide is not None and guide_window[0] <= i * h < guide_window[1]:
            v = v + guide(z, t)
        z = z + h * v
    return z
