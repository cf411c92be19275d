"""Accuracy of `tune` with per-neuron, per-group and objective targets (issue 19, item 3), measured over long runs
after tuning, with tolerances from the counting noise.

The network of every test is the README's sweep point: a 200-neuron NormalGenerator network (mean 0, std 5, Glorot,
Dale's law: neurons 0–99 excitatory, 100–199 inhibitory) and the BernoulliGLM of the sweep (θ = 5, Δt = 1 ms, a
20-step coupling window, 3 + 7 refractory steps). Rates after tuning are measured over 200,000 steps (200 s): a neuron
at 8 Hz fires ≈1,600 spikes there, a counting standard error of ≈2.5 %, so counting noise alone gives a median relative
error of 0.674 × 2.5 % ≈ 1.7 %. Each test takes 2–10 s on one core.
"""
import math, warnings
import torch
from spikeometric_nb.datasets import NormalGenerator
from spikeometric_nb.models import BernoulliGLM
from spikeometric_nb.stimulus import RegularStimulus

SWEEP = dict(theta=5., dt=1., coupling_window=20, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100., rel_ref_scale=7,
             rel_ref_strength=-30., beta=0.5, r=1.)
N, T = 200, 200_000


def network(seed=0):
    return NormalGenerator(N, mean=0., std=5., glorot=True, rng=torch.Generator().manual_seed(seed)).generate(1)[0]


def model(seed=0, **changes):
    return BernoulliGLM(**{**SWEEP, **changes}, rng=torch.Generator().manual_seed(seed))


def counts(m, data, steps=T):
    "Spike count of every neuron over `steps` steps (events: memory grows with the spikes, not N × steps)."
    events = m.simulate(data, steps, verbose=False, record="events")
    return torch.bincount(events.neuron, weights=events.count.double(), minlength=data.num_nodes)


def tuned_quietly(m, data, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimates = m.tune(data, verbose=False, **kwargs)
    return estimates, [str(w.message) for w in caught if w.category.__name__ == "ConvergenceWarning"]


def test_per_neuron_lognormal_targets():
    "Targets log-normal (median 8 Hz, σ_log 0.5, clipped to 1–40 Hz): met per neuron, without bias."
    data = network()
    target = (8 * torch.exp(0.5 * torch.randn(N, generator=torch.Generator().manual_seed(1)))).clamp(1, 40)
    m = model(seed=1)
    # 300 epochs of 1,000 steps (≈1.5 s): the parameters end at their average over the last 75 epochs, 75,000 steps in
    # which the network's slow common fluctuations (≈0.7 % over 20,000 steps) average out
    estimates, warned = tuned_quietly(m, data, firing_rate=target, tunable_parameters=["theta"], lr=0.05, n_steps=1000,
                                      n_epochs=300)
    assert estimates.shape == (300, N) and m.theta.shape == (N,) and warned == []
    c = counts(m, data)
    rate = c / T * 1000
    error = rate / target - 1
    se = c.sqrt() / T * 1000 / target   # each neuron's relative counting standard error (≈2.5 % at 8 Hz)
    within = (error.abs() <= 3 * se + 0.03).double().mean().item()
    # the bounds; counting noise alone gives a median of 1.7 % and a 95th percentile of ≈5 %, and an
    # independent implementation reached 100 % within, median 1.5–1.8 %, p95 4.2–5.9 %, mean within 0.6 %
    print(f"per neuron: {within:.1%} within, median {error.abs().median():.2%}, p95 {error.abs().quantile(0.95):.2%}, "
          f"mean {error.mean():+.2%}")
    assert within >= 0.98, within
    assert error.abs().median() <= 0.023, error.abs().median()
    assert error.abs().quantile(0.95) <= 0.07, error.abs().quantile(0.95)
    # the mean over 200 neurons: counting noise ≈ 2.5 % / √200 ≈ 0.2 %, the network's slow common fluctuations over
    # 200 s ≈ 0.3 %; a squared loss on the per-epoch estimate undershoots by ≈2 % here
    assert abs(error.mean()) <= 0.01, error.mean()


def test_group_targets_dale():
    "Excitatory neurons at 5 Hz, inhibitory at 20 Hz: one θ per group, each group's rate within 2 %."
    data = network()
    m = model(seed=2)
    groups = {"E": torch.arange(N) < N // 2, "I": torch.arange(N) >= N // 2}
    estimates, warned = tuned_quietly(m, data, firing_rate={"E": 5., "I": 20.}, groups=groups,
                                      tunable_parameters=["theta"], lr=0.05, n_steps=400, n_epochs=150)
    assert estimates.shape == (150, 2) and warned == []
    assert len(m.theta[groups["E"]].unique()) == 1 and len(m.theta[groups["I"]].unique()) == 1   # one value per group
    rate = counts(m, data) / T * 1000
    # 100 neurons × 200 s: ≈100,000 spikes at 5 Hz (0.3 % counting noise), ≈400,000 at 20 Hz (0.16 %); 2 % is the
    # issue's bound (an independent implementation: 0.9 % and 1.1 % at worst)
    print("groups:", {name: f"{rate[groups[name]].mean().item() / hz - 1:+.2%}" for name, hz in (("E", 5.), ("I", 20.))})
    for name, hz in (("E", 5.), ("I", 20.)):
        assert abs(rate[groups[name]].mean() / hz - 1) <= 0.02, (name, rate[groups[name]].mean())


def test_theta_recovery():
    "Rates recorded from a network with known per-neuron θ give back that θ from a constant start."
    data = network()
    true_theta = 5 + 0.5 * torch.randn(N, generator=torch.Generator().manual_seed(3))
    recorded = counts(model(seed=3, theta=true_theta), data) / T * 1000   # the recording: 200 s
    m = model(seed=4)   # θ = 5 for every neuron
    _, warned = tuned_quietly(m, data, firing_rate=recorded, tunable_parameters=["theta"], lr=0.05, n_steps=400,
                              n_epochs=200)
    r = torch.corrcoef(torch.stack([m.theta, true_theta]))[0, 1].item()
    rms = (m.theta - true_theta).pow(2).mean().sqrt().item()
    # the recorded rates carry ≈2.5 % counting noise, and d log(rate)/dθ ≈ −1 at these rates, so θ cannot be known
    # better than ≈0.025–0.03 per neuron: RMS ≤ 0.04 and, against θ's spread of 0.5, r ≥ 0.996 (the issue's bounds)
    print(f"recovery: r {r:.4f}, RMS {rms:.4f}")
    assert r >= 0.996 and rms <= 0.04, (r, rms)


def test_objective_psth_recovers_strength_and_theta():
    "A PSTH recorded with a known stimulus strength: fitting strength and θ with a Poisson deviance recovers both."
    data = network()
    period, pulse, driven = 100, 20, torch.arange(N) < 50
    def stimulated(strength, theta, seed):
        m = model(seed=seed, theta=theta)
        m.add_stimulus(RegularStimulus(strength=strength, period=period, tau=pulse, stop=10**9, stimulus_masks=driven))
        return m
    recording = stimulated(2.0, 5.0, seed=5).simulate(data, 100_000, verbose=False).double()   # 1,000 periods
    folded = recording.reshape(N, -1, period).mean(1)   # [N, period]: mean count at each phase
    psth = torch.stack([folded[driven].mean(0), folded[~driven].mean(0)])   # [2, period], spikes per step

    def deviance(mu, data):
        "Poisson deviance of the model's PSTH (driven and undriven neurons) against the recording's."
        model_psth = mu.reshape(-1, period, N).mean(0)   # [period, N]
        model_psth = torch.stack([model_psth[:, driven].mean(1), model_psth[:, ~driven].mean(1)])
        return (model_psth - psth * torch.log(model_psth.clamp_min(1e-12))).sum()   # μ underflows when refractory

    m = stimulated(1.0, 5.5, seed=6)
    values, _ = tuned_quietly(m, data, objective=deviance, tunable_parameters=["theta", "stimulus.strength"], lr=0.05,
                              n_steps=10 * period, n_epochs=300)
    assert values.shape == (300,)
    # the recorded PSTH holds ≈400 spikes per phase bin of the driven group, so the 100 bins fix the strength to ≈0.5 %
    # and θ to ≈0.01; the fit's own estimates, averaged over its last 75 epochs of 10 periods (750 periods, against
    # the recording's 1,000), add about as much again; 2 % and 0.04 are the bounds
    print(f"objective: strength {m.stimulus.strength.item():.4f} (2), θ {m.theta.item():.4f} (5)")
    assert abs(m.stimulus.strength.item() / 2.0 - 1) <= 0.02, m.stimulus.strength.item()
    assert abs(m.theta.item() - 5.0) <= 0.04, m.theta.item()
