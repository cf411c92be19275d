"""Code written for the published spikeometric 1.0.3 runs on spikeometric_nb after changing the imports (SPEC §6.3).

Each test holds a script written the way 1.0.3 users write it (imports from `spikeometric.datasets`,
`spikeometric.models`, `spikeometric.stimulus`; the published argument names, as keywords and positionally,
in the published order; DataLoader batches, `add_stimulus`, `simulate`, `tune`, batched stimuli, `save`/`load`,
subclassing `BaseModel`/`SAModel`). `run_1_0_3` rewrites `spikeometric` to `spikeometric_nb` in the import
lines only, executes the script as a fresh module inside a temporary working directory, and the test then
asserts what the script measured. About 10 s on a 2-core CPU.

Deliberate differences (SPEC.md **Differs**) that the scripts avoid, so that both packages mean the same thing:
  * RectifiedLNP / PoissonGLM read `T` in ms here and in steps in 1.0.3: every script that builds them uses
    dt = 1 ms, where T ms = T steps.
  * PoissonGLM in 1.0.3 multiplies the sampled counts by dt (so integer storage loses every spike when dt < 1):
    with dt = 1 both give the counts themselves; no script relies on the dt-scaled counts.
1.0.3 behaviours that are bugs rather than API, and that no script relies on either: `next_batch()` raising when
there is a single batch, SAModel.tune's loss (dt / mean μ instead of the rate), ThresholdSAM's squared noise,
lexicographic file order in ConnectivityDataset (every folder here holds fewer than ten files), BernoulliGLM
scaling the refractory self-input by r as well (the scripts use r = 1).
The last scripts pin what was once incompatible: SA_BY_HAND (R1: the SA models' connectivity_filter returns W alone),
TENSOR_ATTRIBUTES (R2: stimulus times, recorded-stimulus sizes and BernoulliGLM windows are tensors; windows take 5.0),
SPIKE_TYPES (R3: integer or boolean spikes where 1.0.3 gives them) and FILES (R5: model files written by 1.0.3's `save`,
tests/fixtures/spikeometric_1_0_3/, made by tests/fixtures/make_1_0_3_fixtures.py, load and become the saved models).
The scripts DATASETS … SA_MODELS and SA_BY_HAND … FILES also run unchanged on the published 1.0.3; CUSTOM does not, because 1.0.3's
LoadedStimulus indexes a multi-channel recording [n_neurons, n_steps, n_channels, n_networks] at step t along the
channel axis (`stimulus[..., t, ...]`), so stimulus(0) is channel 0 over all steps; here it is step 0 over all
channels, as SPEC §4.3 and the 1.0.3 docstring describe the layout.
"""
import re, shutil, sys, types
from pathlib import Path
import pytest
import torch

_IMPORT = re.compile(r"^(\s*)(from|import)(\s+)spikeometric(?=[\s.])", re.M)


def run_1_0_3(script: str) -> dict:
    "Execute a 1.0.3 user script with `spikeometric` replaced by `spikeometric_nb` in its import lines only; return its namespace."
    assert "spikeometric_nb" not in script
    ported, n_imports = _IMPORT.subn(r"\1\2\3spikeometric_nb", script)
    assert n_imports > 0, "the script imports nothing from spikeometric"
    for before, after in zip(script.splitlines(), ported.splitlines()):   # nothing but import lines changed
        assert before == after or before.lstrip().startswith(("from spikeometric", "import spikeometric")), after
    assert "spikeometric." not in re.sub(r"spikeometric_nb\.", "", ported)   # no 1.0.3 module is referenced after porting
    # a real module, as a user's script is: torch_geometric looks a MessagePassing subclass's module up in sys.modules
    module = types.ModuleType("spikeometric_1_0_3_user_script")
    sys.modules[module.__name__] = module
    try: exec(compile(ported, "<spikeometric 1.0.3 user script>", "exec"), module.__dict__)
    finally: del sys.modules[module.__name__]
    return module.__dict__


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    "The scripts use relative paths, as users do: run them in a fresh folder."
    monkeypatch.chdir(tmp_path)


def _only_changed(before: dict, after: dict) -> set:
    "Names whose values differ between two {name: tensor} snapshots."
    assert before.keys() == after.keys()
    return {name for name in before if not torch.equal(before[name], after[name])}


# ---------------------------------------------------------------------------------------------------------------------
# Shared by the scripts below: four 20-neuron networks saved to disk and loaded back, batched two at a time.
NETWORKS = '''
import torch
from torch_geometric.loader import DataLoader
from spikeometric.datasets import NormalGenerator, ConnectivityDataset

n_neurons = 20
n_networks = 4
generator = NormalGenerator(n_neurons=n_neurons, mean=0, std=5, sparsity=0.5, glorot=True,
                            rng=torch.Generator().manual_seed(14071789))
generator.save(n_networks, "data/w0/20_neurons_4_networks")
dataset = ConnectivityDataset("data/w0/20_neurons_4_networks")
data_loader = DataLoader(dataset, batch_size=2, shuffle=False)
'''


DATASETS = '''
import numpy as np
import torch
from pathlib import Path
from torch_geometric.loader import DataLoader
from spikeometric.datasets import NormalGenerator, UniformGenerator, MexicanHatGenerator, ConnectivityDataset

# The same generator built with keywords and positionally
normal_kw = NormalGenerator(n_neurons=10, mean=0, std=5, sparsity=0.6, glorot=True, rng=torch.Generator().manual_seed(3))
normal_pos = NormalGenerator(10, 0, 5, 0.6, True, torch.Generator().manual_seed(3))
W_normal_kw, W_normal_pos = normal_kw.generate_W0(), normal_pos.generate_W0()

uniform_kw = UniformGenerator(n_neurons=10, low=-1., high=1., sparsity=0.5, rng=torch.Generator().manual_seed(4))
uniform_pos = UniformGenerator(10, -1., 1., 0.5, torch.Generator().manual_seed(4))
W_uniform_kw, W_uniform_pos = uniform_kw.generate_W0(), uniform_pos.generate_W0()
uniform_positive = UniformGenerator(10, 0., 2., 0.5, rng=torch.Generator().manual_seed(4)).generate(3)

hat_kw = MexicanHatGenerator(n_neurons=30, a=1.0015, sigma_1=6.98, sigma_2=7.)
hat_pos = MexicanHatGenerator(30, 1.0015, 6.98, 7.)
W_hat = hat_kw.generate_W0()
hat_networks = hat_pos.generate(2)

# Generate, save to a folder, load the folder, batch it
normal_kw.save(3, "data/w0/normal")
dataset = ConnectivityDataset(root="data/w0/normal")
saved = [torch.load(f"data/w0/normal/{i}.pt") for i in range(3)]
batches = list(DataLoader(dataset, batch_size=2, shuffle=False))
combined = dataset.combine_all()

# Matrices written with numpy (float64) load too
Path("data/w0/hat").mkdir(parents=True, exist_ok=True)
np.save("data/w0/hat/0.npy", W_hat.numpy().astype(np.float64))
np.save("data/w0/hat/1.npy", W_hat.numpy().astype(np.float64))
hat_dataset = ConnectivityDataset("data/w0/hat")
'''


def test_datasets():
    ns = run_1_0_3(DATASETS)
    for a, b in (("W_normal_kw", "W_normal_pos"), ("W_uniform_kw", "W_uniform_pos")):
        assert torch.equal(ns[a], ns[b]), f"{a} (keywords) != {b} (positional) with the same seed"
    for W in (ns["W_normal_kw"], ns["W_uniform_kw"]):   # Dale's law: rows 0..4 excitatory, 5..9 inhibitory, no autapses
        assert W.shape == (10, 10) and (W[:5] >= 0).all() and (W[5:] <= 0).all() and (W.diagonal() == 0).all()
        assert (W[:5] > 0).any() and (W[5:] < 0).any()
    assert all(((d.W0 >= 0) & (d.W0 <= 2)).all() and d.num_nodes == 10 for d in ns["uniform_positive"])
    W_hat = ns["W_hat"]
    assert torch.allclose(W_hat, W_hat.T) and (W_hat.diagonal() == 0).all()
    d = torch.tensor([1., 2., 15.])                       # distances on the 30-ring from neuron 0 to 1, 2 and 15
    expected = torch.exp(-d**2 / (2 * 6.98**2)) - 1.0015 * torch.exp(-d**2 / (2 * 7.**2))
    assert torch.allclose(W_hat[0, [1, 2, 15]], expected, atol=1e-6) and torch.allclose(W_hat[0, 29], W_hat[0, 1])
    assert [d.num_nodes for d in ns["hat_networks"]] == [30, 30]
    assert sorted(p.name for p in Path("data/w0/normal").iterdir()) == ["0.pt", "1.pt", "2.pt"]
    dataset, saved = ns["dataset"], ns["saved"]
    assert len(dataset) == 3
    for data, W in zip(dataset, saved):                    # row 0 of edge_index = source j, W[j, i]
        assert data.edge_index.shape == (2, int((W != 0).sum())) and data.num_nodes == 10
        assert torch.equal(data.W0, W[data.edge_index[0], data.edge_index[1]])
    assert [b.num_nodes for b in ns["batches"]] == [20, 10]
    assert ns["combined"].num_nodes == 30 and ns["combined"].W0.shape[0] == sum(d.W0.shape[0] for d in dataset)
    hat_dataset = ns["hat_dataset"]
    assert len(hat_dataset) == 2 and hat_dataset[1].num_nodes == 30
    assert torch.allclose(hat_dataset[0].W0.float(), W_hat[hat_dataset[0].edge_index[0], hat_dataset[0].edge_index[1]])


# ---------------------------------------------------------------------------------------------------------------------
BERNOULLI = NETWORKS + '''
from spikeometric.models import BernoulliGLM
from spikeometric.stimulus import RegularStimulus

n_steps = 2000
model = BernoulliGLM(
    theta=5.,
    dt=1.,
    coupling_window=5,
    alpha=0.2,
    abs_ref_scale=3,
    abs_ref_strength=-100.,
    rel_ref_scale=7,
    rel_ref_strength=-30.,
    beta=0.5,
    r=1.,
    rng=torch.Generator().manual_seed(0),
)
# the published positional order
model_pos = BernoulliGLM(5., 1., 5, 0.2, 3, -100., 7, -30., 0.5, 1., torch.Generator().manual_seed(0))
parameter_names = set(model.tunable_parameters)

# The connectivity filter adds one self-edge per neuron carrying the refractory filter
data = dataset[0]
W, edge_index = model.connectivity_filter(data.W0, data.edge_index)

# Stimulate 4 neurons of each network with pulses of 10 steps every 100 steps
mask_rng = torch.Generator().manual_seed(42)
stimulus_masks = [torch.isin(torch.arange(n_neurons), torch.randperm(n_neurons, generator=mask_rng)[:4]) for _ in range(n_networks)]
stimulus = RegularStimulus(strength=10., period=100, tau=10, stop=n_steps, stimulus_masks=stimulus_masks, batch_size=2, start=0, dt=1.)
stimulus_pos = RegularStimulus(10., 100, 10, n_steps, stimulus_masks, 2, 0, 1.)
pulse_kw, pulse_pos = stimulus(torch.arange(300)), stimulus_pos(torch.arange(300))
model.add_stimulus(stimulus)
parameter_names_with_stimulus = set(model.tunable_parameters)

# Batch handling of the stimulus
n_batches = stimulus.n_batches
masks_of_batches = stimulus.stimulus_masks
stimulus.set_batch(1)
second_batch_at_0 = stimulus(0)
stimulus.next_batch()
after_wrap = stimulus.current_batch
stimulus.set_batch(1)
stimulus.reset()
after_reset = stimulus.current_batch

results = torch.zeros((n_neurons * n_networks, n_steps), dtype=torch.int)
batches_used = []
for i, data in enumerate(data_loader):
    batches_used.append(model.stimulus.current_batch)
    results[i*data.num_nodes:(i+1)*data.num_nodes] = model.simulate(data, n_steps=n_steps, verbose=False)
batch_after_simulations = model.stimulus.current_batch
firing_rate = results.float().mean() / model.dt * 1000

# Tune the threshold only, on the first batch
before_tuning = {k: v.clone() for k, v in model.tunable_parameters.items()}
model.tune(next(iter(data_loader)), firing_rate=20., tunable_parameters=["theta"], lr=0.05, n_steps=100, n_epochs=5, verbose=False)
after_tuning = {k: v.clone() for k, v in model.tunable_parameters.items()}
batch_after_tuning = model.stimulus.current_batch
'''


def test_bernoulli_glm_with_regular_stimulus():
    ns = run_1_0_3(BERNOULLI)
    model, model_pos = ns["model"], ns["model_pos"]
    sd, sd_pos = model.state_dict(), model_pos.state_dict()   # model also holds its stimulus by now
    assert sd_pos.keys() == {k for k in sd if not k.startswith("stimulus.")}
    assert all(torch.equal(sd[k], sd_pos[k]) for k in sd_pos if k != "theta")   # theta was tuned
    for name, value in dict(theta=5., alpha=0.2, rel_ref_strength=-30., beta=0.5, r=1.).items():
        assert float(getattr(model_pos, name)) == pytest.approx(value), name
    assert ns["parameter_names"] == {"theta", "alpha", "beta", "rel_ref_strength", "r"}
    assert ns["parameter_names_with_stimulus"] == ns["parameter_names"] | {"stimulus.strength"}

    # connectivity_filter: [E + N, K] with K = max(coupling_window, abs + rel) = 10, flipped in time (last column = lag 0)
    data, W, edge_index = ns["dataset"][0], ns["W"], ns["edge_index"]
    E, N = data.edge_index.shape[1], data.num_nodes
    assert W.shape == (E + N, 10) and edge_index.shape == (2, E + N)
    is_self = edge_index[0] == edge_index[1]
    assert int(is_self.sum()) == N
    assert torch.allclose(W[is_self][:, -3:], torch.full((N, 3), -100.))         # absolute refractory, lags 0..2
    assert torch.allclose(W[~is_self][:, -1], data.W0)                            # lag 0 coupling = r·W0, r = 1

    # stimulus: keywords == positional; pulses of 10 steps every 100; batches of two networks
    assert torch.equal(ns["pulse_kw"], ns["pulse_pos"]) and ns["pulse_kw"].shape == (40, 300)
    on = ns["pulse_kw"].abs().sum(0) > 0
    assert on.nonzero().flatten().tolist() == [t for t in range(300) if t % 100 < 10]
    masks = ns["stimulus_masks"]
    assert int(ns["n_batches"]) == 2
    assert [m.shape[0] for m in ns["masks_of_batches"]] == [40, 40] and torch.equal(ns["masks_of_batches"][1], torch.cat(masks[2:4]))
    assert torch.equal(ns["second_batch_at_0"], 10. * torch.cat(masks[2:4]).float())
    assert ns["after_wrap"] == 0 and ns["after_reset"] == 0
    assert ns["batches_used"] == [0, 1] and ns["batch_after_simulations"] == 0   # simulate advanced the batch, wrapping

    results = ns["results"]
    assert results.shape == (80, 2000) and set(results.unique().tolist()) <= {0, 1}
    # An isolated neuron fires σ(−θ)/dt = 6.7 Hz; the glorot-scaled zero-mean coupling and the pulses move the
    # mean by a few Hz. 80 neurons × 2000 steps hold ≈1000 spikes (±3 %), so 3–30 Hz is a loose plausibility bound.
    assert 3 < float(ns["firing_rate"]) < 30
    # A pulse (10 on top of θ = 5, so p ≈ 1) makes a stimulated neuron fire at its onset and once more after the
    # ≈8-step refractory period: ≈2 extra spikes per 100 ms, ≈27 Hz against ≈7 Hz. With ≈800 and ≈900 spikes in
    # the two groups (±3.5 % each) the ratio is known to ±5 %; a factor 2 is far below the expected ≈3.5.
    stimulated = torch.cat(masks)
    rate = results.float().mean(1) * 1000
    assert rate[stimulated].mean() > 2 * rate[~stimulated].mean()
    # the absolute refractory period (3 steps of −100) forbids spikes 1 or 2 steps after a spike
    assert not (results[:, 1:] & results[:, :-1]).any() and not (results[:, 2:] & results[:, :-2]).any()

    # tune(["theta"]) changed theta only, and froze every parameter again
    assert _only_changed(ns["before_tuning"], ns["after_tuning"]) == {"theta"}
    assert all(not p.requires_grad for p in model.parameters())
    assert ns["batch_after_tuning"] == 1


# ---------------------------------------------------------------------------------------------------------------------
RECTIFIED_LNP = NETWORKS + '''
from spikeometric.models import RectifiedLNP
from spikeometric.stimulus import SinStimulus

n_steps = 1000
def make_model():
    return RectifiedLNP(
        lambda_0=1.,   # Scales the output of the rectifier
        theta=0.08,    # Threshold of the rectifier
        T=10,          # Length of the filter window (dt = 1, so steps and ms agree)
        tau=5.,        # Time constant of the exponential filter
        dt=1.,         # Time step (ms)
        r=0.02,        # Recurrent weight
        b=0.1,         # Background input
        rng=torch.Generator().manual_seed(1),
    )
def make_stimulus():
    return SinStimulus(amplitude=0.05, period=50., duration=n_steps, stimulus_masks=stimulus_masks, batch_size=2,
                       phase=0., baseline=0.02, start=0, dt=1.)

model = make_model()
model_pos = RectifiedLNP(1., 0.08, 10, 5., 1., 0.02, 0.1, torch.Generator().manual_seed(1))
stimulus_masks = torch.zeros(n_networks, n_neurons, dtype=torch.bool)   # a 2-D tensor of masks, as 1.0.3 allows
stimulus_masks[:, :5] = True
stimulus = make_stimulus()
stimulus_pos = SinStimulus(0.05, 50., n_steps, stimulus_masks, 2, 0., 0.02, 0, 1.)
sin_kw, sin_pos = stimulus(torch.arange(100)), stimulus_pos(torch.arange(100))
model.add_stimulus(stimulus)

W, edge_index = model.connectivity_filter(dataset[0].W0, dataset[0].edge_index)

results = torch.zeros((n_neurons * n_networks, n_steps))
for i, data in enumerate(data_loader):
    results[i*data.num_nodes:(i+1)*data.num_nodes] = model.simulate(data, n_steps=n_steps, verbose=False)
firing_rate = results.float().mean() / model.dt * 1000

def snapshot():
    return {name: p.detach().clone() for name, p in model.tunable_parameters.items()}

train = next(iter(data_loader))
tuned = {}
for selection in ["stimulus", "model", "all"]:
    before = snapshot()
    batch_before = model.stimulus.current_batch
    model.stimulus.reset()
    model.tune(train, firing_rate=100., tunable_parameters=selection, lr=1e-3, n_steps=50, n_epochs=5, verbose=False)
    tuned[selection] = (before, snapshot(), model.stimulus.current_batch)
model.stimulus.reset()
before_default = snapshot()
model.tune(train, 100., lr=1e-3, n_steps=50, n_epochs=2, verbose=False)   # tunable_parameters defaults to "all"
after_default = snapshot()

# Save the tuned model, load it into a fresh one
model.save("rectified_lnp.pt")
loaded = make_model()
loaded.add_stimulus(make_stimulus())
fresh = {name: p.detach().clone() for name, p in loaded.tunable_parameters.items()}
loaded.load("rectified_lnp.pt")
loaded.stimulus.reset()
loaded_spikes = loaded.simulate(next(iter(data_loader)), n_steps=200, verbose=False)
'''


def test_rectified_lnp_with_sin_stimulus_tune_and_save_load():
    ns = run_1_0_3(RECTIFIED_LNP)
    model, model_pos = ns["model"], ns["model_pos"]
    for name in ("lambda_0", "theta", "tau", "r", "b"):
        assert torch.equal(getattr(model_pos, name), getattr(ns["make_model"](), name)), name
    model_names = {"lambda_0", "theta", "tau", "r", "b"}
    stimulus_names = {"stimulus.amplitude", "stimulus.period", "stimulus.phase", "stimulus.baseline"}
    assert set(model.tunable_parameters) == model_names | stimulus_names

    # filter [E, T] with T = 10 steps (dt = 1), c(k) = exp(−k·dt/τ) flipped: column −1 is lag 0, column 0 lag 9
    data, W = ns["dataset"][0], ns["W"]
    assert W.shape == (data.W0.shape[0], 10) and torch.equal(ns["edge_index"], data.edge_index)
    assert torch.allclose(W[:, -1], data.W0) and torch.allclose(W[:, 0], data.W0 * torch.exp(torch.tensor(-9 / 5.)))

    # the sinusoid: keywords == positional, A·sin(2π t dt / P) + baseline on the masked neurons only
    assert torch.equal(ns["sin_kw"], ns["sin_pos"]) and ns["sin_kw"].shape == (40, 100)
    t = torch.arange(100.)
    expected = 0.05 * torch.sin(2 * torch.pi * t / 50.) + 0.02
    assert torch.allclose(ns["sin_kw"][0], expected, atol=1e-6) and (ns["sin_kw"][5:20] == 0).all()

    results = ns["results"]
    assert results.shape == (80, 1000) and (results >= 0).all() and torch.equal(results, results.round())
    # Without coupling, μ = λ₀·dt·(b − θ) = 0.02 per step (20 Hz), plus the baseline 0.02 (+20 Hz) on a quarter of
    # the neurons: ≈25 Hz; the weak coupling (r·|W| ≈ 0.02) adds a few Hz. ≈2400 spikes → ±2 %: 10–40 Hz is loose.
    assert 10 < float(ns["firing_rate"]) < 40

    # tune("stimulus" / "model" / "all") changes exactly the selected group (Adam moves every parameter whose
    # gradient is non-zero by ≈ lr per epoch; a parameter outside the selection must stay bit-identical)
    for selection, changeable in (("stimulus", stimulus_names), ("model", model_names), ("all", model_names | stimulus_names)):
        before, after, batch = ns["tuned"][selection]
        changed = _only_changed(before, after)
        assert changed and changed <= changeable, (selection, changed)
        assert batch == 1, "tune advances a batched stimulus, as simulate does"
        if selection != "stimulus":
            # target 100 Hz is far above the ≈20 Hz the network fires at: the threshold must come down
            assert after["theta"] < before["theta"], selection
        if selection != "model":
            assert after["stimulus.baseline"] > before["stimulus.baseline"], selection
    assert "theta" in _only_changed(ns["before_default"], ns["after_default"])
    assert "stimulus.baseline" in _only_changed(ns["before_default"], ns["after_default"])
    assert all(not p.requires_grad for p in model.parameters())

    # save/load round trip: the fresh model had the initial values, after load it holds the tuned ones
    loaded = ns["loaded"]
    tuned = {name: p.detach() for name, p in model.tunable_parameters.items()}
    assert _only_changed(ns["fresh"], tuned), "tuning changed nothing, so the round trip would prove nothing"
    assert not _only_changed(tuned, {name: p.detach() for name, p in loaded.tunable_parameters.items()})
    assert ns["loaded_spikes"].shape == (40, 200)


# ---------------------------------------------------------------------------------------------------------------------
POISSON = NETWORKS + '''
from spikeometric.models import PoissonGLM
from spikeometric.stimulus import PoissonStimulus

n_steps = 2000
model = PoissonGLM(alpha=50., beta=1., T=10, tau=5., dt=1., r=0.02, b=0., rng=torch.Generator().manual_seed(2))
model_pos = PoissonGLM(50., 1., 10, 5., 1., 0.02, 0., torch.Generator().manual_seed(2))
model = model.to("cpu")

stimulus_masks = [torch.arange(n_neurons) < 10 for _ in range(n_networks)]   # first half of every network
stimulus = PoissonStimulus(strength=2., mean_interval=20, duration=n_steps, stimulus_masks=stimulus_masks, batch_size=4,
                           tau=5, dt=1., start=0, rng=torch.Generator().manual_seed(5))
stimulus_pos = PoissonStimulus(2., 20, n_steps, stimulus_masks, 4, 5, 1., 0, torch.Generator().manual_seed(5))
events_kw, events_pos = stimulus(torch.arange(n_steps)), stimulus_pos(torch.arange(n_steps))
model.add_stimulus(stimulus)

data = dataset.combine_all()
spikes = model.simulate(data, n_steps=n_steps)   # with the progress bar, as 1.0.3 users leave it
firing_rate = spikes.float().mean() / model.dt * 1000
float_spikes = model.simulate(data, n_steps=100, verbose=False, equilibration_steps=10, store_as_dtype=torch.float)

before = {k: v.clone() for k, v in model.tunable_parameters.items()}
model.tune(data, firing_rate=30., tunable_parameters=["b"], lr=0.01, n_steps=50, n_epochs=5, verbose=False)
after = {k: v.clone() for k, v in model.tunable_parameters.items()}
'''


def test_poisson_glm_with_poisson_stimulus():
    ns = run_1_0_3(POISSON)
    model, model_pos = ns["model"], ns["model_pos"]
    assert set(ns["before"]) == {"alpha", "beta", "tau", "r", "b", "stimulus.strength"}
    assert all(torch.equal(ns["before"][n], getattr(model_pos, n)) for n in ("alpha", "beta", "tau", "r", "b"))

    events_kw, events_pos, stimulus = ns["events_kw"], ns["events_pos"], ns["stimulus"]
    assert torch.equal(events_kw, events_pos) and events_kw.shape == (80, 2000)
    assert torch.equal(stimulus.stimulus_times, ns["stimulus_pos"].stimulus_times)
    on = (events_kw[0] != 0).float().mean()
    # events of 5 steps at Poisson(20) intervals: ≈ 5/20 of the steps are on (less where events overlap);
    # ≈100 events, so the fraction's standard error is ≈ 0.025
    assert 0.15 < float(on) < 0.30
    assert (events_kw[torch.cat(ns["stimulus_masks"])].abs().sum() > 0) and (events_kw[10:20] == 0).all()

    spikes = ns["spikes"]
    assert spikes.shape == (80, 2000) and spikes.dtype == torch.int and (spikes >= 0).all()
    assert ns["float_spikes"].shape == (80, 100) and ns["float_spikes"].dtype == torch.float
    # At zero input μ = dt/α = 0.02 per step (20 Hz); during events (≈ 25 % of the time) exp(β·2) = 7.4× on half of
    # the neurons: ≈ 20·(0.75 + 0.25·7.4) ≈ 52 Hz there, ≈ 20 Hz elsewhere (the weak coupling shifts this by a few Hz).
    rate = spikes.float().mean(1) * 1000
    stimulated = torch.cat(ns["stimulus_masks"])
    assert 12 < float(rate[~stimulated].mean()) < 30     # ≈ 800 spikes: ±3.5 %
    assert 35 < float(rate[stimulated].mean()) < 75      # ≈ 2000 spikes: ±2 %, plus the event-count noise (±10 %)
    assert _only_changed(ns["before"], ns["after"]) == {"b"}


# ---------------------------------------------------------------------------------------------------------------------
SA_MODELS = NETWORKS + '''
from spikeometric.models import RectifiedSAM, ThresholdSAM

n_steps = 1000
data = dataset.combine_all()

rsam = RectifiedSAM(lambda_0=1., theta=0., tau=10., dt=1., r=0.05, b=0.02, rng=torch.Generator().manual_seed(6))
rsam_pos = RectifiedSAM(1., 0., 10., 1., 0.05, 0.02, torch.Generator().manual_seed(6))
rsam_spikes = rsam.simulate(data, n_steps=n_steps, verbose=False)
rsam_rate = rsam_spikes.float().mean() / rsam.dt * 1000
before = {k: v.clone() for k, v in rsam.tunable_parameters.items()}
rsam.tune(data, firing_rate=30., tunable_parameters=["theta"], lr=1e-3, n_steps=50, n_epochs=5, verbose=False)
after = {k: v.clone() for k, v in rsam.tunable_parameters.items()}

tsam = ThresholdSAM(r=0.1, b=1., tau=10., dt=1., sigma=1., rho=0.5, theta=2., rng=torch.Generator().manual_seed(7))
tsam_pos = ThresholdSAM(0.1, 1., 10., 1., 1., 0.5, 2., torch.Generator().manual_seed(7))
tsam_spikes = tsam.simulate(data, n_steps=n_steps, verbose=False)
tsam_rate = tsam_spikes.float().mean() / tsam.dt * 1000
try:
    tsam.tune(data, firing_rate=10., verbose=False)
    tune_error = None
except ValueError as error:
    tune_error = error
'''


def test_sa_models():
    ns = run_1_0_3(SA_MODELS)
    rsam, rsam_pos, tsam, tsam_pos = ns["rsam"], ns["rsam_pos"], ns["tsam"], ns["tsam_pos"]
    assert all(torch.equal(ns["before"][n], getattr(rsam_pos, n)) for n in ("lambda_0", "theta", "tau", "r", "b"))
    assert torch.equal(rsam.dt, rsam_pos.dt)
    assert all(torch.equal(getattr(tsam, n), getattr(tsam_pos, n)) for n in ("r", "b", "tau", "dt", "sigma", "rho", "theta"))
    assert set(rsam.tunable_parameters) == {"lambda_0", "theta", "tau", "r", "b"} and not tsam.tunable_parameters

    assert ns["rsam_spikes"].shape == (80, 1000) and (ns["rsam_spikes"] >= 0).all()
    # μ = λ₀·dt·(b + r·Σ W0 s) with b = 0.02 (20 Hz); s ≈ rate·τ ≈ 0.2 and r·|W0| ≈ 0.05 add at most a few Hz.
    # ≈1600 spikes: ±2.5 %, so 10–40 Hz is loose.
    assert 10 < float(ns["rsam_rate"]) < 40
    assert _only_changed(ns["before"], ns["after"]) == {"theta"}

    spikes = ns["tsam_spikes"]
    assert spikes.shape == (80, 1000) and set(spikes.unique().tolist()) <= {0, 1}
    # Without coupling a neuron crosses θ = 2 when b·(1 + σz) > 2, i.e. z > 1 with noise present (ρ = 0.5):
    # 0.5·0.159 = 0.079 per step (79 Hz). The zero-mean coupling (r·|W0|·s ≈ 0.1·1.1·0.8 per presynaptic neuron)
    # shifts single neurons' thresholds but hardly the mean; ≈6000 spikes: ±1.3 %. 50–110 Hz leaves room for it.
    assert 50 < float(ns["tsam_rate"]) < 110
    assert isinstance(ns["tune_error"], ValueError), "ThresholdSAM has nothing to tune"


# ---------------------------------------------------------------------------------------------------------------------
CUSTOM = NETWORKS + '''
import torch.nn as nn
from torch_geometric.utils import add_remaining_self_loops
from spikeometric.models import BaseModel, SAModel
from spikeometric.stimulus import LoadedStimulus

class RefractoryRectifiedLNP(BaseModel):
    """Rectified linear-Poisson neurons with exponential coupling and an absolute refractory self-edge,
    driven by a two-channel stimulus weighted per channel."""
    def __init__(self, lambda_0, theta, T, tau, abs_ref_scale, abs_ref_strength, dt, r, channel_weights, rng=None):
        super().__init__()
        self.register_buffer("T", torch.tensor(T, dtype=torch.int))
        self.register_buffer("abs_ref_scale", torch.tensor(abs_ref_scale, dtype=torch.int))
        self.register_buffer("abs_ref_strength", torch.tensor(abs_ref_strength, dtype=torch.float))
        self.register_buffer("dt", torch.tensor(dt, dtype=torch.float))
        self.register_buffer("channel_weights", torch.tensor(channel_weights, dtype=torch.float))
        self.register_parameter("lambda_0", nn.Parameter(torch.tensor(lambda_0, dtype=torch.float)))
        self.register_parameter("theta", nn.Parameter(torch.tensor(theta, dtype=torch.float)))
        self.register_parameter("tau", nn.Parameter(torch.tensor(tau, dtype=torch.float)))
        self.register_parameter("r", nn.Parameter(torch.tensor(r, dtype=torch.float)))
        self._rng = rng if rng is not None else torch.Generator()
        self.requires_grad_(False)

    def input(self, edge_index, W, state, t=-1):
        return self.synaptic_input(edge_index, W, state=state) + self.stimulus_input(t)

    def non_linearity(self, input):
        return self.lambda_0 * torch.relu(input - self.theta) * self.dt

    def emit_spikes(self, rates):
        return torch.poisson(rates, generator=self._rng)

    def stimulus_filter(self, stimulus):
        return torch.sum(stimulus * self.channel_weights, dim=1)   # [n_neurons, n_channels] -> [n_neurons]

    def connectivity_filter(self, W0, edge_index):
        n_edges = W0.shape[0]
        n_neurons = edge_index.max().item() + 1
        edge_index, _ = add_remaining_self_loops(edge_index, num_nodes=n_neurons)
        W0 = torch.cat([W0, torch.zeros(edge_index.shape[1] - n_edges, device=W0.device)], dim=0)
        is_self_edge = edge_index[0] == edge_index[1]

        t = torch.arange(self.T, device=W0.device)
        coupling = self.r * W0[~is_self_edge].unsqueeze(1) * torch.exp(-t * self.dt / self.tau)
        refractory = (self.abs_ref_strength * (t < self.abs_ref_scale)).repeat(int(is_self_edge.sum()), 1)

        W = torch.zeros((W0.shape[0], int(self.T)), device=W0.device)
        W[~is_self_edge] = coupling
        W[is_self_edge] = refractory.float()
        return W.flip(1), edge_index


class DecayingSAM(SAModel):
    """Synaptic-activation neurons with a logistic spike probability."""
    def __init__(self, theta, tau, dt, r, b, rng=None):
        super().__init__()
        self.register_buffer("T", torch.tensor(1, dtype=torch.int))
        self.register_buffer("dt", torch.tensor(dt, dtype=torch.float))
        self.register_parameter("theta", nn.Parameter(torch.tensor(theta, dtype=torch.float)))
        self.register_parameter("tau", nn.Parameter(torch.tensor(tau, dtype=torch.float)))
        self.register_parameter("r", nn.Parameter(torch.tensor(r, dtype=torch.float)))
        self.register_parameter("b", nn.Parameter(torch.tensor(b, dtype=torch.float)))
        self._rng = rng if rng is not None else torch.Generator()
        self.requires_grad_(False)

    def input(self, edge_index, W, state, t=-1):
        return self.r * self.synaptic_input(edge_index, W, state=state) + self.b + self.stimulus_input(t)

    def non_linearity(self, input):
        return torch.sigmoid(input - self.theta) * self.dt

    def emit_spikes(self, probabilities):
        return torch.bernoulli(probabilities, generator=self._rng)

    def update_activation(self, spikes, activation):
        return activation * (1 - self.dt / self.tau) + spikes * self.dt


n_steps = 600
# A recorded two-channel stimulus [n_neurons, n_steps, n_channels, n_networks]: channel 0 drives neurons 0-4
# of every network for the first half of the recording, channel 1 is noise that the model weighs by zero.
recording = torch.zeros(n_neurons, n_steps, 2, n_networks)
recording[:5, : n_steps // 2, 0] = 0.5
recording[:, :, 1] = torch.rand(n_neurons, n_steps, n_networks, generator=torch.Generator().manual_seed(8))
torch.save(recording, "stimulus.pt")
stimulus = LoadedStimulus("stimulus.pt", batch_size=2)
stimulus_pos = LoadedStimulus("stimulus.pt", 2)
first_step = stimulus(0)
torch.save(recording[:, :, 0], "single_channel.pt")       # [n_neurons, n_steps, n_networks]
single_channel = LoadedStimulus(path="single_channel.pt", batch_size=4)
single_channel_step_5 = single_channel(5)
several_steps = stimulus(torch.arange(10))

model = RefractoryRectifiedLNP(lambda_0=1., theta=0., T=10, tau=5., abs_ref_scale=2, abs_ref_strength=-100., dt=1.,
                               r=0.02, channel_weights=[1., 0.], rng=torch.Generator().manual_seed(9))
model.add_stimulus(stimulus)
W, edge_index = model.connectivity_filter(dataset[0].W0, dataset[0].edge_index)

results = torch.zeros((n_neurons * n_networks, n_steps))
batches_used = []
for i, data in enumerate(data_loader):
    batches_used.append(stimulus.current_batch)
    results[i*data.num_nodes:(i+1)*data.num_nodes] = model.simulate(data, n_steps=n_steps, verbose=False, equilibration_steps=20)

before = {k: v.clone() for k, v in model.tunable_parameters.items()}
model.tune(next(iter(data_loader)), firing_rate=10., tunable_parameters=["theta"], lr=0.01, n_steps=20, n_epochs=3, verbose=False)
after = {k: v.clone() for k, v in model.tunable_parameters.items()}
model.save("custom.pt")
reloaded = RefractoryRectifiedLNP(1., 0., 10, 5., 2, -100., 1., 0.02, [1., 0.])
reloaded.add_stimulus(LoadedStimulus("stimulus.pt", batch_size=2))
reloaded.load("custom.pt")

sam = DecayingSAM(theta=4., tau=10., dt=1., r=0.1, b=0., rng=torch.Generator().manual_seed(10))
sam_spikes = sam.simulate(dataset.combine_all(), n_steps=500, verbose=False)
sam_before = {k: v.clone() for k, v in sam.tunable_parameters.items()}
sam.tune(dataset.combine_all(), firing_rate=30., tunable_parameters="model", lr=0.01, n_steps=20, n_epochs=3, verbose=False)
sam_after = {k: v.clone() for k, v in sam.tunable_parameters.items()}
'''


def test_custom_models_and_loaded_stimulus():
    ns = run_1_0_3(CUSTOM)
    stimulus, recording = ns["stimulus"], ns["recording"]
    assert int(stimulus.n_batches) == 2 and int(ns["stimulus_pos"].n_batches) == 2
    # networks stacked in node order: batch 0 = networks 0 and 1
    assert torch.equal(ns["first_step"], torch.cat([recording[:, 0, :, 0], recording[:, 0, :, 1]]))
    assert ns["several_steps"].shape[:2] == (40, 10)
    assert torch.equal(ns["single_channel_step_5"], recording[:, 5, 0].T.reshape(-1))   # 4 networks in node order
    assert ns["batches_used"] == [0, 1]

    data, W, edge_index = ns["dataset"][0], ns["W"], ns["edge_index"]
    N, E = data.num_nodes, data.edge_index.shape[1]
    assert W.shape == (E + N, 10) and edge_index.shape == (2, E + N)

    results = ns["results"]
    assert results.shape == (80, 600) and (results >= 0).all()
    # only the driven neurons (0.5 above θ = 0 for the first 300 steps) fire; the rest get r·W0 input of ±0.02
    # per presynaptic spike, so they fire rarely. Driven: μ ≤ 0.5 per step, cut by the 2-step refractory period.
    driven = torch.zeros(80, dtype=torch.bool)
    for net in range(4): driven[net * 20: net * 20 + 5] = True
    first_half, second_half = results[:, :300], results[:, 300:]
    # Driven: μ = 0.5 per step when not refractory, so ≈ 1 spike per 4 steps (≈ 250–300 Hz, ≈1700 spikes, ±2.5 %);
    # the others only see the coupling r·W0 ≈ ±0.02 per presynaptic spike (≈ 45 Hz, ≈800 spikes, ±3.5 %).
    assert float(first_half[driven].mean()) > 0.15
    assert float(first_half[driven].mean()) > 3 * float(first_half[~driven].mean())
    assert float(second_half[driven].mean()) < 0.2 * float(first_half[driven].mean())   # the drive ends at step 300
    # the refractory self-edge (−100 at lags 0 and 1) silences a neuron for the 2 steps after a spike
    fired = results > 0
    assert not (fired[:, 1:] & fired[:, :-1]).any() and not (fired[:, 2:] & fired[:, :-2]).any()

    assert _only_changed(ns["before"], ns["after"]) == {"theta"}
    reloaded = ns["reloaded"]
    assert torch.equal(reloaded.theta, ns["model"].theta) and not torch.equal(reloaded.theta, torch.tensor(0.))

    sam_spikes = ns["sam_spikes"]
    assert sam_spikes.shape == (80, 500) and set(sam_spikes.unique().tolist()) <= {0, 1}
    # isolated: σ(−4) = 0.018 per step (18 Hz); the zero-mean coupling on s ≲ 0.2 spreads it by a few Hz. ±3 %.
    assert 8 < float(sam_spikes.float().mean()) * 1000 < 40
    changed = _only_changed(ns["sam_before"], ns["sam_after"])
    assert "theta" in changed and changed <= {"theta", "tau", "r", "b"}


# ---------------------------------------------------------------------------------------------------------------------
# R1: the SA models' connectivity_filter returns W alone, as in 1.0.3, so the model's methods can be chained by hand.
SA_BY_HAND = NETWORKS + '''
from spikeometric.models import RectifiedSAM, ThresholdSAM

data = dataset[0]
activation = torch.rand(n_neurons, 1, generator=torch.Generator().manual_seed(3))
rsam = RectifiedSAM(lambda_0=1., theta=0., tau=10., dt=1., r=0.05, b=0.02, rng=torch.Generator().manual_seed(6))
W = rsam.connectivity_filter(data.W0, data.edge_index)
rsam_input = rsam.input(data.edge_index, W=rsam.connectivity_filter(data.W0, data.edge_index), state=activation)
rsam_spikes = rsam.emit_spikes(rsam.non_linearity(rsam_input))
next_activation = rsam.update_activation(spikes=rsam_spikes.unsqueeze(1), activation=activation)

tsam = ThresholdSAM(r=0.1, b=1., tau=10., dt=1., sigma=0., rho=0., theta=1.01, rng=torch.Generator().manual_seed(7))
tsam_input = tsam.input(data.edge_index, W=tsam.connectivity_filter(data.W0, data.edge_index), state=activation)
tsam_spikes = tsam.emit_spikes(tsam.non_linearity(tsam_input))
fired = torch.arange(n_neurons)[tsam_spikes]   # boolean spikes select the neurons that fired
'''


def test_sa_models_connectivity_filter_by_hand():
    "R1: `W = model.connectivity_filter(W0, edge_index)` is a tensor [E, 1] that `input` takes as it is."
    ns = run_1_0_3(SA_BY_HAND)
    data, W, s = ns["dataset"][0], ns["W"], ns["activation"]
    assert isinstance(W, torch.Tensor) and torch.equal(W, data.W0.unsqueeze(1))
    synaptic = torch.zeros(20).index_add_(0, data.edge_index[1], data.W0 * s[data.edge_index[0], 0])   # Σ_j W0[j, i] s_j
    assert torch.allclose(ns["rsam_input"], 0.05 * synaptic + 0.02, atol=1e-6)
    assert torch.allclose(ns["tsam_input"], 0.1 * synaptic + 1.0, atol=1e-6)   # no noise (rho = 0)
    assert torch.equal(ns["fired"], (0.1 * synaptic + 1.0 > 1.01).nonzero().flatten())
    assert ns["next_activation"].shape == (20, 1)


# ---------------------------------------------------------------------------------------------------------------------
# R2: what 1.0.3 keeps as tensors is a tensor here too (`.item()`, `.tolist()`); BernoulliGLM takes windows as 5.0.
TENSOR_ATTRIBUTES = NETWORKS + '''
from spikeometric.models import BernoulliGLM
from spikeometric.stimulus import RegularStimulus, SinStimulus, PoissonStimulus, LoadedStimulus

masks = [torch.arange(n_neurons) < 5 for _ in range(n_networks)]
regular = RegularStimulus(strength=1., period=50, tau=10, stop=500, stimulus_masks=masks, batch_size=2, start=5)
regular_times = (regular.period.item(), regular.tau.item(), regular.start.item(), regular.stop.item(), regular.dt.item())
sin = SinStimulus(amplitude=1., period=40., duration=400, stimulus_masks=masks, batch_size=2, start=10, dt=0.5)
sin_times = (sin.duration.item(), sin.start.item(), sin.period.item(), sin.dt.item())
poisson = PoissonStimulus(strength=1., mean_interval=20, duration=300, stimulus_masks=masks, batch_size=2, tau=4, start=3,
                          rng=torch.Generator().manual_seed(0))
poisson_times = (poisson.mean_interval.item(), poisson.duration.item(), poisson.tau.item(), poisson.start.item())

torch.save(torch.rand(n_neurons, 100, n_networks, generator=torch.Generator().manual_seed(1)), "recording.pt")
loaded = LoadedStimulus("recording.pt", batch_size=3)
loaded_sizes = (loaded.n_steps.item(), loaded.n_neurons.item(), loaded.n_networks.item(), loaded.batch_size.item(),
                loaded.n_batches.item(), loaded.neurons_per_batch.tolist())
first_batch = torch.stack([loaded(t) for t in range(loaded.n_steps.item())], dim=1)

glm = BernoulliGLM(theta=5., dt=1., coupling_window=5.0, alpha=0.2, abs_ref_scale=3.0, abs_ref_strength=-100.,
                   rel_ref_scale=7.0, rel_ref_strength=-30., beta=0.5, r=1.)
windows = (glm.coupling_window.item(), glm.abs_ref_scale.item(), glm.rel_ref_scale.item(), glm.T.item())
W, edge_index = glm.connectivity_filter(dataset[0].W0, dataset[0].edge_index)
'''


def test_tensor_attributes():
    "R2 (and item 7): stimulus times, recorded-stimulus sizes and BernoulliGLM windows are tensors, windows accept 5.0."
    ns = run_1_0_3(TENSOR_ATTRIBUTES)
    assert ns["regular_times"] == (50, 10, 5, 500, 1.0)
    assert ns["sin_times"] == (400, 10, 40.0, 0.5)
    assert ns["poisson_times"] == (20, 300, 4, 3)
    assert ns["loaded_sizes"] == (100, 20, 4, 3, 2, [60, 20])
    recording = torch.load("recording.pt")
    assert torch.equal(ns["first_batch"], torch.cat([recording[:, :, k] for k in range(3)]))
    assert ns["windows"] == (5, 3, 7, 10) and ns["W"].shape[1] == 10


# ---------------------------------------------------------------------------------------------------------------------
# R3: spikes come in 1.0.3's types: integers from BernoulliGLM and RectifiedSAM, booleans from ThresholdSAM.
SPIKE_TYPES = '''
import torch
from spikeometric.models import BernoulliGLM, RectifiedSAM, ThresholdSAM

glm = BernoulliGLM(theta=5., dt=1., coupling_window=5, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100.,
                   rel_ref_scale=7, rel_ref_strength=-30., beta=0.5, r=1., rng=torch.Generator().manual_seed(0))
glm_spikes = glm.emit_spikes(torch.full((10_000,), 0.3))
glm_histogram = torch.bincount(glm_spikes)          # bincount takes integers only
rsam = RectifiedSAM(lambda_0=1., theta=0., tau=10., dt=1., r=0.05, b=0.02, rng=torch.Generator().manual_seed(6))
rsam_histogram = torch.bincount(rsam.emit_spikes(torch.full((10_000,), 2.)))
tsam = ThresholdSAM(r=0.1, b=1., tau=10., dt=1., sigma=1., rho=0.5, theta=2., rng=torch.Generator().manual_seed(7))
tsam_spikes = tsam.emit_spikes(tsam.non_linearity(torch.tensor([1., 3., 2.5, 0.])))
neurons_that_fired = torch.arange(4)[tsam_spikes]
'''


def test_spike_types():
    "R3: the dtypes of emit_spikes (RectifiedSAM: int32 here, uint8 in 1.0.3, which wraps above 255)."
    ns = run_1_0_3(SPIKE_TYPES)
    assert ns["glm_spikes"].dtype == torch.int32 and ns["glm_histogram"].sum() == 10_000
    assert abs(ns["glm_histogram"][1] / 10_000 - 0.3) < 4 * 0.0046          # p = 0.3, standard error 0.0046
    assert ns["rsam_histogram"].sum() == 10_000 and len(ns["rsam_histogram"]) > 3   # Poisson(2) counts
    assert ns["tsam_spikes"].dtype == torch.bool and ns["neurons_that_fired"].tolist() == [1, 2]


# ---------------------------------------------------------------------------------------------------------------------
# R4: the published stimulus tutorial passes the stimulus to simulate as a keyword, which 1.0.3 accepted and ignored.
IGNORED_KEYWORDS = NETWORKS + '''
import torch, warnings
from spikeometric.models import BernoulliGLM
from spikeometric.stimulus import RegularStimulus

data = dataset[0]
model = BernoulliGLM(theta=5., dt=1., coupling_window=5, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100.,
                     rel_ref_scale=7, rel_ref_strength=-30., beta=0.5, r=1., rng=torch.Generator().manual_seed(0))
stimulus = RegularStimulus(strength=2., period=100, tau=5, stop=1000, stimulus_masks=torch.ones(data.num_nodes, dtype=torch.bool))
model.add_stimulus(stimulus)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    spikes = model.simulate(data, n_steps=1000, stimulus=stimulus)
messages = [str(w.message) for w in caught]
'''


def test_ignored_simulate_keywords():
    "R4: code that passes 1.0.3's ignored keywords still runs, and is told they have no effect."
    ns = run_1_0_3(IGNORED_KEYWORDS)
    assert ns["spikes"].shape == (ns["data"].num_nodes, 1000)
    if ns["messages"]:   # this library (1.0.3 itself ignores them silently)
        assert any("simulate: stimulus has no effect and is ignored" in m and "model.add_stimulus" in m for m in ns["messages"]), ns["messages"]


# ---------------------------------------------------------------------------------------------------------------------
# R5: model files written by 1.0.3's `save` (tests/fixtures/make_1_0_3_fixtures.py) load into models built with other
# arguments and become the saved models.
FIXTURES = Path(__file__).parent / "fixtures" / "spikeometric_1_0_3"

FILES = '''
import torch
from spikeometric.models import BernoulliGLM, RectifiedLNP, PoissonGLM, RectifiedSAM, ThresholdSAM
from spikeometric.stimulus import RegularStimulus, SinStimulus

masks = [torch.arange(10) < 5, torch.arange(10) < 5]
glm = BernoulliGLM(theta=5., dt=1., coupling_window=1, alpha=0.2, abs_ref_scale=1, abs_ref_strength=-100.,
                   rel_ref_scale=1, rel_ref_strength=-30., beta=0.5, r=1.)
glm.load("bernoulli_glm.pt")
glm_W, glm_edges = glm.connectivity_filter(torch.tensor([1.0, -1.0]), torch.tensor([[0, 1], [1, 0]]))
driven = BernoulliGLM(theta=5., dt=1., coupling_window=1, alpha=0.2, abs_ref_scale=1, abs_ref_strength=-100.,
                      rel_ref_scale=1, rel_ref_strength=-30., beta=0.5, r=1.)
driven.add_stimulus(RegularStimulus(strength=1., period=10, tau=2, stop=100, stimulus_masks=masks, batch_size=2))
driven.load("bernoulli_glm_regular_stimulus.pt")
lnp = RectifiedLNP(lambda_0=1., theta=0., T=10, tau=5., dt=1., r=0.1, b=0.)
lnp.load("rectified_lnp.pt")
lnp_W, _ = lnp.connectivity_filter(torch.tensor([1.0]), torch.tensor([[0], [1]]))
lnp_sin = RectifiedLNP(lambda_0=1., theta=0., T=10, tau=5., dt=1., r=0.1, b=0.)
lnp_sin.add_stimulus(SinStimulus(amplitude=1., period=10., duration=100, stimulus_masks=masks, batch_size=1))
lnp_sin.load("rectified_lnp_sin_stimulus.pt")
glm_poisson = PoissonGLM(alpha=10., beta=1., T=10, tau=5., dt=1., r=0.1, b=0.)
glm_poisson.load("poisson_glm.pt")
rsam = RectifiedSAM(lambda_0=1., theta=0., tau=10., dt=1., r=0.05, b=0.02)
rsam.load("rectified_sam.pt")
tsam = ThresholdSAM(r=0.1, b=1., tau=10., dt=1., sigma=1., rho=0.5, theta=2., rng=torch.Generator().manual_seed(7))
tsam.load("threshold_sam.pt")
'''


def test_model_files_written_by_1_0_3():
    "R5: a BernoulliGLM state_dict saved by 1.0.3 (and the other models', with stimuli) loads and becomes the saved model."
    for path in FIXTURES.glob("*.pt"): shutil.copy(path, path.name)
    ns = run_1_0_3(FILES)
    values = lambda model: {k: (v.item() if v.numel() == 1 else v.tolist()) for k, v in model.state_dict().items()}
    glm = ns["glm"]
    assert values(glm) == pytest.approx(dict(theta=4.5, alpha=0.3, beta=0.7, rel_ref_strength=-20., r=1.5, dt=0.5, coupling_window=6,
                                             abs_ref_scale=2, rel_ref_scale=5, T=7, abs_ref_strength=-50.))
    assert glm.K == 7 and ns["glm_W"].shape == (4, 7)                          # 2 coupling edges + 2 self-edges, K = 7
    assert torch.allclose(ns["glm_W"][0].flip(0)[:6], 1.5 * torch.exp(-0.3 * 0.5 * torch.arange(6.)))   # r·c(k), 6 steps
    stimulus = ns["driven"].stimulus
    assert (stimulus.period.item(), stimulus.tau.item(), stimulus.start.item(), stimulus.strength.item()) == (40, 5, 10, 2.)
    assert torch.equal(stimulus(41), 2. * torch.cat([torch.arange(10) < 3, torch.arange(10) >= 7]).float())   # the saved masks
    lnp = ns["lnp"]   # 1.0.3's T = 30 steps at dt = 0.5 ms is a 15 ms window here: the same 30-step filter
    assert (lnp.T.item(), lnp.dt.item(), lnp.K) == (15., 0.5, 30) and ns["lnp_W"].shape == (1, 30)
    sin = ns["lnp_sin"].stimulus
    assert (sin.start.item(), sin.duration.item(), sin.phase.item()) == pytest.approx((20, 500, 0.5))
    assert ns["glm_poisson"].K == 12 and ns["glm_poisson"].alpha.item() == 30.
    assert values(ns["rsam"]) == pytest.approx(dict(lambda_0=0.5, theta=0.02, tau=8., r=0.3, b=0.2, dt=0.5, T=1))
    assert values(ns["tsam"]) == pytest.approx(dict(r=0.2, b=0.8, tau=6., dt=0.5, sigma=0.7, rho=0.4, theta=1.2, T=1))


def test_model_files_of_another_model_change_nothing():
    "A 1.0.3 file of another model is a ValueError naming the file, and the model keeps its values."
    from spikeometric_nb.models import RectifiedLNP, RectifiedSAM
    for path in FIXTURES.glob("*.pt"): shutil.copy(path, path.name)
    for model, file, message in ((RectifiedSAM(1., 0., 10., 1., 0.05, 0.02), "rectified_lnp.pt", "T must be 1 for an activation model"),
                                 (RectifiedLNP(1., 0., 10, 5., 1., 0.1, 0.), "bernoulli_glm.pt", "does not hold a RectifiedLNP")):
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with pytest.raises(ValueError, match=re.escape(f"'{file}'")) as raised: model.load(file)
        assert message in str(raised.value) and "weights_only" not in str(raised.value)
        assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
