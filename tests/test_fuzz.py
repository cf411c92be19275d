"""Property-based tests of every public entry point with random valid and invalid arguments (SPEC §5).

Each test draws the arguments of one entry point; each argument is either valid or, now and then, invalid (a wrong
type, NaN or ±inf, a value out of range, a non-integral number of steps, …). Then:

* with an invalid argument, the call raises ValueError or TypeError whose message names one of the invalid arguments,
  before any work: the model's generator has not moved, its parameters and its stimulus's batch are as they were;
* with valid arguments, the call runs (a simulation may still stop with the engine's "running away" error when the
  random parameters make the network explode, which is the documented behaviour for valid input);
* in both cases the inputs (tensors, `Data`, lists of masks) are bit-for-bit what they were before.

Entry points: the generators (`NormalGenerator`, `UniformGenerator`, `MexicanHatGenerator`: construction, `generate`,
`generate_W0`, `save`), `ConnectivityDataset`, every model class, every stimulus class, `add_stimulus`, `set_tunable`,
`save`/`load`, `simulate` (data, n_steps, verbose, equilibration_steps, store_as_dtype, propagation), `tune`, and the
analysis functions. Networks are small (≤ 12 neurons), runs short (≤ 30 steps); about 30 s on a 2-core CPU.
The tests at the end pin defects this found (each named an argument too late, or not at all); they are fixed.
"""
import math, os, tempfile, warnings
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from spikeometric_nb import analysis
from spikeometric_nb.datasets import ConnectivityDataset, MexicanHatGenerator, NormalGenerator, UniformGenerator
from spikeometric_nb.models import BernoulliGLM, PoissonGLM, RectifiedLNP, RectifiedSAM, ThresholdSAM
from spikeometric_nb.stimulus import LoadedStimulus, PoissonStimulus, RegularStimulus, SinStimulus

# 100 examples per entry point keep the file near 30 s; SPIKEOMETRIC_NB_FUZZ_EXAMPLES=500 explores further
SETTINGS = settings(max_examples=int(os.environ.get("SPIKEOMETRIC_NB_FUZZ_EXAMPLES", 100)), deadline=None,
                    suppress_health_check=list(HealthCheck), database=None)


# ---------------------------------------------------------------------------------------------------------------------
# Values

NOT_A_NUMBER = st.sampled_from(["one", "1", None, [1.0], {}, object(), torch.ones(2), 1j])
NON_FINITE = st.sampled_from([float("nan"), float("inf"), -float("inf")])
BAD_NUMBER = st.one_of(NOT_A_NUMBER, NON_FINITE)
BAD_STEPS = st.one_of(st.sampled_from([-1, 2.5, "3", None, float("nan"), float("inf"), torch.tensor([1, 2]), True]))
BAD_COUNT = st.sampled_from([0, -1, 1.5, "2", None, True, float("nan")])
BAD_RNG = st.sampled_from([3, "seed", object(), np.random.default_rng(0)])


def finite(lo=-5., hi=5.):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def positive(lo=0.05, hi=5.):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def rngs():
    return st.one_of(st.none(), st.integers(0, 2**31).map(lambda s: torch.Generator().manual_seed(s)))


@st.composite
def arguments(draw, spec: dict):
    "({name: value}, [names drawn invalid]) for spec = {name: (valid strategy, invalid strategy or None)}."
    corrupt = draw(st.integers(0, 2)) == 0                   # a third of the calls get invalid arguments
    values, bad = {}, []
    for name, (good, wrong) in spec.items():
        if corrupt and wrong is not None and draw(st.integers(0, len(spec))) == 0:
            values[name], bad = draw(wrong), bad + [name]
        else:
            values[name] = draw(good)
    return values, bad


def outcome(call, bad: list, allowed=()):
    "Call; with invalid arguments expect ValueError/TypeError naming one of them (returns None), else the result."
    if bad:
        with pytest.raises((ValueError, TypeError)) as raised: call()
        message = str(raised.value)
        assert any(name in message for name in bad), f"invalid {bad}, but the error does not name them: {message!r}"
        return None
    try: return call()
    except ValueError as error:
        if any(text in str(error) for text in allowed): return None
        raise


def snapshot(obj):
    "A deep copy of every tensor in obj (Data, lists, tuples, dicts), to compare after a call."
    if isinstance(obj, torch.Tensor): return ("tensor", obj.detach().clone(), obj.dtype, obj.requires_grad, obj.grad)
    if isinstance(obj, Data): return ("data", {k: snapshot(v) for k, v in obj.to_dict().items()}, obj.num_nodes)
    if isinstance(obj, (list, tuple)): return (type(obj).__name__, [snapshot(v) for v in obj])
    if isinstance(obj, dict): return ("dict", {k: snapshot(v) for k, v in obj.items()})
    return ("other", obj)


def unchanged(before, obj) -> bool:
    after = snapshot(obj)
    if before[0] != after[0]: return False
    if before[0] == "tensor":
        return (torch.equal(before[1], after[1]) or (before[1].is_floating_point() and bool(torch.equal(before[1].isnan(), after[1].isnan()))
                and torch.equal(before[1].nan_to_num(), after[1].nan_to_num()))) and before[2:4] == after[2:4] and after[4] is None
    if before[0] == "data": return before[2] == after[2] and before[1].keys() == after[1].keys() and all(
        unchanged(before[1][k], getattr(obj, k)) for k in before[1])
    if before[0] in ("list", "tuple"): return len(before[1]) == len(obj) and all(unchanged(b, o) for b, o in zip(before[1], obj))
    if before[0] == "dict": return before[1].keys() == obj.keys() and all(unchanged(before[1][k], obj[k]) for k in obj)
    return True


def model_state(model) -> tuple:
    "What a call that fails before any work must leave as it was: values, requires_grad, generator, stimulus batch."
    return ({k: v.detach().clone() for k, v in model.state_dict().items()}, [p.requires_grad for p in model.parameters()],
            model.rng.get_state(), getattr(model.stimulus, "current_batch", None))


def same_state(a, b) -> bool:
    values_a, values_b = a[0], b[0]
    return (values_a.keys() == values_b.keys() and all(torch.equal(values_a[k].nan_to_num(), values_b[k].nan_to_num()) for k in values_a)
            and a[1] == b[1] and torch.equal(a[2], b[2]) and a[3] == b[3])


# ---------------------------------------------------------------------------------------------------------------------
# Generators and datasets

EVEN_N = st.integers(1, 6).map(lambda k: 2 * k)
GENERATORS = {
    NormalGenerator: dict(n_neurons=(EVEN_N, st.one_of(BAD_COUNT, st.sampled_from([3, 7]))), mean=(finite(), BAD_NUMBER),
                          std=(positive(), st.one_of(BAD_NUMBER, st.sampled_from([0., -1.]))),
                          sparsity=(st.floats(0.5, 1.), st.one_of(BAD_NUMBER, st.sampled_from([0.4, 1.1]))),
                          glorot=(st.booleans(), None), rng=(rngs(), BAD_RNG)),
    UniformGenerator: dict(n_neurons=(EVEN_N, BAD_COUNT), low=(finite(-5., -0.1), BAD_NUMBER), high=(finite(0.1, 5.), BAD_NUMBER),
                           sparsity=(st.floats(0., 1.), st.one_of(BAD_NUMBER, st.sampled_from([-0.1, 1.1]))), rng=(rngs(), BAD_RNG)),
    MexicanHatGenerator: dict(n_neurons=(st.integers(2, 12), BAD_COUNT), a=(finite(), BAD_NUMBER),
                              sigma_1=(positive(), st.one_of(BAD_NUMBER, st.sampled_from([0., -1.]))),
                              sigma_2=(positive(), st.one_of(BAD_NUMBER, st.sampled_from([0., -1.])))),
}


@SETTINGS
@given(st.sampled_from(list(GENERATORS)).flatmap(lambda cls: st.tuples(st.just(cls), arguments(GENERATORS[cls]))),
       st.tuples(st.integers(1, 3), st.none()).flatmap(lambda _: arguments(dict(n_networks=(st.integers(1, 3), BAD_COUNT)))))
def test_generators(drawn, count):
    cls, (kwargs, bad) = drawn
    before = snapshot(kwargs)
    generator = outcome(lambda: cls(**kwargs), bad)
    assert unchanged(before, kwargs)
    if generator is None: return
    W = generator.generate_W0()
    assert W.shape == (generator.n_neurons,) * 2 and torch.isfinite(W).all() and (W.diagonal() == 0).all()
    (n_networks,), bad = tuple(count[0].values()), count[1]
    networks = outcome(lambda: generator.generate(n_networks), bad)
    if networks is not None:
        assert len(networks) == n_networks and all(torch.isfinite(d.W0).all() and d.num_nodes == generator.n_neurons for d in networks)
    with tempfile.TemporaryDirectory() as folder:
        outcome(lambda: generator.save(n_networks, Path(folder) / "networks"), bad)
        if not bad: assert sorted(p.name for p in (Path(folder) / "networks").iterdir()) == [f"{i}.pt" for i in range(n_networks)]


class Payload:
    "Unpickling this would run a shell command."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f"touch {self.marker}",))


# A bad file in a dataset folder: (what it holds, a word the error must contain); pickled payloads: test_dataset_refuses_pickles_without_advice.
BAD_FILES = {
    "non-square": (lambda path: torch.save(torch.ones(3, 4), path), "square"),
    "nan": (lambda path: torch.save(torch.full((3, 3), float("nan")), path), "finite"),
    "1-D": (lambda path: torch.save(torch.ones(3), path), "square"),
    "dict": (lambda path: torch.save({"W": torch.ones(3, 3)}, path), "holds a dict"),
    "empty": (lambda path: path.write_bytes(b""), ""),
    "numpy non-square": (lambda path: np.save(path.with_suffix(".npy"), np.ones((2, 3))), "square"),
}


@SETTINGS
@given(st.lists(st.tuples(st.integers(2, 6), st.sampled_from([".pt", ".npy"])), min_size=0, max_size=3),
       st.sampled_from([None, "missing folder"] + list(BAD_FILES)))
def test_connectivity_dataset(files, trouble):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "networks"
        root.mkdir()
        for i, (n, suffix) in enumerate(files):
            W = torch.randn(n, n).fill_diagonal_(0)
            torch.save(W, root / f"{i}.pt") if suffix == ".pt" else np.save(root / f"{i}.npy", W.numpy())
        if trouble in BAD_FILES: BAD_FILES[trouble][0](root / "bad.pt")
        if trouble == "missing folder": root = root / "absent"
        if trouble is None and not files:
            with pytest.raises(ValueError, match="root"): ConnectivityDataset(root)
            return
        if trouble is not None:
            with pytest.raises(ValueError) as raised: ConnectivityDataset(root)
            assert ("root" in str(raised.value) or "bad." in str(raised.value)) and BAD_FILES.get(trouble, (0, ""))[1] in str(raised.value)
            return
        dataset = ConnectivityDataset(root)
        assert len(dataset) == len(files) and [d.num_nodes for d in dataset] == [n for n, _ in files]
        assert dataset.combine_all().num_nodes == sum(n for n, _ in files)


# ---------------------------------------------------------------------------------------------------------------------
# Models

def time_constants(draw_dt):
    "(dt, a multiple of it) for windows and time constants that must span at least one step."
    return draw_dt.flatmap(lambda dt: st.tuples(st.just(dt), st.integers(1, 20).map(lambda k: k * dt)))


MODEL_SPECS = {
    RectifiedLNP: dict(lambda_0=(positive(), BAD_NUMBER), theta=(finite(-1, 1), BAD_NUMBER), tau=(positive(), st.one_of(BAD_NUMBER, st.just(0.))),
                       r=(finite(-1, 1), BAD_NUMBER), b=(finite(-1, 1), BAD_NUMBER), rng=(rngs(), BAD_RNG)),
    PoissonGLM: dict(alpha=(positive(1., 50.), st.one_of(BAD_NUMBER, st.sampled_from([0., -2.]))), beta=(finite(-1, 1), BAD_NUMBER),
                     tau=(positive(), BAD_NUMBER), r=(finite(-1, 1), BAD_NUMBER), b=(finite(-1, 1), BAD_NUMBER), rng=(rngs(), BAD_RNG)),
    BernoulliGLM: dict(theta=(finite(), BAD_NUMBER), dt=(st.floats(0.1, 1.), st.one_of(BAD_NUMBER, st.sampled_from([0., -1., 1.5]))),
                       coupling_window=(st.one_of(st.integers(1, 8), st.integers(1, 8).map(float)), st.one_of(BAD_STEPS, st.just(0))),
                       alpha=(finite(0, 1), BAD_NUMBER), abs_ref_scale=(st.integers(0, 4), BAD_STEPS),
                       abs_ref_strength=(finite(-100, 0), BAD_NUMBER), rel_ref_scale=(st.integers(0, 4).map(float), BAD_STEPS),
                       rel_ref_strength=(finite(-30, 0), BAD_NUMBER), beta=(finite(0, 1), BAD_NUMBER), r=(finite(0, 2), BAD_NUMBER),
                       rng=(rngs(), BAD_RNG)),
    RectifiedSAM: dict(lambda_0=(positive(), BAD_NUMBER), theta=(finite(-1, 1), BAD_NUMBER), r=(finite(-1, 1), BAD_NUMBER),
                       b=(finite(-1, 1), BAD_NUMBER), rng=(rngs(), BAD_RNG)),
    ThresholdSAM: dict(r=(finite(-1, 1), BAD_NUMBER), b=(finite(-1, 1), BAD_NUMBER), sigma=(positive(0., 2.), st.one_of(BAD_NUMBER, st.just(-1.))),
                       rho=(st.floats(0., 1.), st.one_of(BAD_NUMBER, st.sampled_from([-0.1, 1.5]))), theta=(finite(), BAD_NUMBER),
                       rng=(rngs(), BAD_RNG)),
}


@st.composite
def models(draw, classes=tuple(MODEL_SPECS), corrupt=True):
    "(class, kwargs, invalid names) of a model: T/dt and tau/dt drawn so that the valid ones span at least one step."
    cls = draw(st.sampled_from(classes))
    kwargs, bad = draw(arguments(MODEL_SPECS[cls])) if corrupt else (draw(arguments(MODEL_SPECS[cls]).filter(lambda a: not a[1])))
    if cls in (RectifiedLNP, PoissonGLM):
        dt, T = draw(time_constants(st.floats(0.1, 1.)))
        kwargs.update(dt=dt, T=T)
        if corrupt and draw(st.integers(0, 5)) == 0:
            name = draw(st.sampled_from(["dt", "T"]))
            kwargs[name] = draw(st.one_of(BAD_NUMBER, st.just(0.), st.just(-1.) if name == "dt" else st.just(dt / 4)))
            bad = bad + [name]
    if cls in (RectifiedSAM, ThresholdSAM):
        dt, tau = draw(time_constants(st.floats(0.1, 1.)))
        kwargs.update(dt=dt, tau=tau)
        if corrupt and draw(st.integers(0, 5)) == 0:
            name = draw(st.sampled_from(["dt", "tau"]))
            kwargs[name] = draw(st.one_of(BAD_NUMBER, st.just(-1.), st.just(dt / 2) if name == "tau" else st.just(0.)))
            bad = bad + [name]
    return cls, kwargs, bad


@SETTINGS
@given(models())
def test_model_constructors(drawn):
    cls, kwargs, bad = drawn
    before = snapshot(kwargs)
    model = outcome(lambda: cls(**kwargs), bad)
    assert unchanged(before, kwargs)
    if model is None: return
    assert all(not p.requires_grad for p in model.parameters())
    if cls is BernoulliGLM:
        assert model.K == max(int(kwargs["coupling_window"]), int(kwargs["abs_ref_scale"]) + int(kwargs["rel_ref_scale"]))


# ---------------------------------------------------------------------------------------------------------------------
# Stimuli

@st.composite
def masks(draw, sizes):
    "Valid masks for networks of `sizes` in one of the accepted forms: a list of bool or 0/1 tensors, or a 2-D tensor."
    form = draw(st.sampled_from(["bool", "int", "2-D"] if len(set(sizes)) == 1 else ["bool", "int"]))
    rows = [torch.tensor(draw(st.lists(st.booleans(), min_size=n, max_size=n))) for n in sizes]
    if form == "int": rows = [r.long() for r in rows]
    return torch.stack(rows) if form == "2-D" else rows


BAD_MASKS = st.sampled_from(["all", [], None, [torch.tensor([0, 2, 1])], [torch.ones(2, 2)], torch.ones(2, 2, 2), 3])


@st.composite
def stimuli(draw, sizes=None, corrupt=True):
    "(class, kwargs, invalid names, network sizes) of a masked stimulus for 1–3 networks."
    sizes = sizes or draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    cls = draw(st.sampled_from([RegularStimulus, SinStimulus, PoissonStimulus]))
    common = dict(stimulus_masks=(masks(sizes), BAD_MASKS),
                  batch_size=(st.integers(1, len(sizes)), st.one_of(BAD_COUNT, st.just(len(sizes) + 1))),
                  dt=(positive(), st.one_of(BAD_NUMBER, st.just(0.))), start=(st.integers(0, 20), BAD_STEPS))
    spec = {
        RegularStimulus: dict(strength=(finite(), BAD_NUMBER), period=(st.integers(1, 30), st.one_of(BAD_STEPS, st.just(0))),
                              tau=(st.integers(0, 10).map(float), BAD_STEPS), stop=(st.integers(0, 100), BAD_STEPS)),
        SinStimulus: dict(amplitude=(positive(0., 3.), st.one_of(BAD_NUMBER, st.just(-1.))), period=(positive(1., 50.), st.one_of(BAD_NUMBER, st.just(0.))),
                          duration=(st.integers(0, 100), BAD_STEPS), phase=(finite(), BAD_NUMBER), baseline=(finite(), BAD_NUMBER)),
        PoissonStimulus: dict(strength=(finite(), BAD_NUMBER), mean_interval=(positive(1., 20.), st.one_of(BAD_NUMBER, st.just(0.))),
                              duration=(st.integers(0, 100), BAD_STEPS), tau=(st.integers(0, 5), BAD_STEPS), rng=(rngs(), BAD_RNG)),
    }[cls]
    kwargs, bad = draw(arguments({**spec, **common})) if corrupt else draw(arguments({**spec, **common}).filter(lambda a: not a[1]))
    return cls, kwargs, bad, sizes


@SETTINGS
@given(stimuli(), st.lists(st.integers(0, 150), min_size=1, max_size=5))
def test_masked_stimuli(drawn, times):
    cls, kwargs, bad, sizes = drawn
    before = snapshot(kwargs)
    stimulus = outcome(lambda: cls(**kwargs), bad)
    assert unchanged(before, kwargs)
    if stimulus is None: return
    n = sum(sizes[: stimulus.batch_size])
    for t in times: assert stimulus(t).shape == (n,) and torch.isfinite(stimulus(t)).all()
    assert stimulus(torch.tensor(times)).shape == (n, len(times))
    for name in ("start",) + (("period", "tau", "stop") if cls is RegularStimulus else ("duration",)):
        assert isinstance(getattr(stimulus, name).item(), int)        # tensors, as in 1.0.3


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 20), st.integers(1, 3), st.sampled_from([None, 2]), st.integers(1, 4),
       st.sampled_from([None, "missing", "dict", "1-D", "nan", "empty", "payload", "batch_size"]))
def test_loaded_stimulus(n_neurons, n_steps, n_networks, channels, batch_size, trouble):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stimulus.pt"
        shape = (n_neurons, n_steps) + ((channels,) if channels else ()) + (n_networks,)
        recording = torch.rand(shape)
        saved = recording.clone()
        {None: lambda: torch.save(recording, path), "missing": lambda: None, "dict": lambda: torch.save({"x": recording}, path),
         "1-D": lambda: torch.save(torch.ones(3), path), "nan": lambda: torch.save(recording.fill_(float("nan")), path),
         "empty": lambda: path.write_bytes(b""), "payload": lambda: torch.save(Payload(Path(folder) / "ran"), path),
         "batch_size": lambda: torch.save(recording, path)}[trouble]()
        size = batch_size if trouble != "batch_size" else n_networks + 1
        if trouble is None and batch_size > n_networks: trouble = "batch_size"
        if trouble is not None:
            with pytest.raises(ValueError) as raised: LoadedStimulus(path, batch_size=size)
            assert ("batch_size" if trouble == "batch_size" else "path") in str(raised.value)
            assert "weights_only" not in str(raised.value) and not (Path(folder) / "ran").exists()
            return
        stimulus = LoadedStimulus(path, batch_size=size)
        assert torch.equal(torch.load(path), saved)
        n = n_neurons * min(size, n_networks)
        assert stimulus(0).shape == ((n, channels) if channels else (n,))
        assert stimulus.n_steps.item() == n_steps and stimulus.n_batches.item() == math.ceil(n_networks / size)


# ---------------------------------------------------------------------------------------------------------------------
# Running: networks, models ready to run, simulate and tune

@st.composite
def networks(draw):
    "(data, network sizes): one small random network, or a DataLoader batch of 2–3."
    sizes = draw(st.lists(st.integers(2, 6).map(lambda k: 2 * k), min_size=1, max_size=3))
    if len(sizes) > 1: sizes = [sizes[0]] * len(sizes)   # a batch of equal networks, as a DataLoader of one generator gives
    generator = NormalGenerator(sizes[0], mean=0., std=1., sparsity=draw(st.floats(0.5, 0.9)), glorot=True,
                                rng=torch.Generator().manual_seed(draw(st.integers(0, 1000))))
    nets = generator.generate(len(sizes))
    data = nets[0] if len(nets) == 1 else next(iter(DataLoader(nets, batch_size=len(nets))))
    return data, sizes


BAD_DATA = st.sampled_from(["nan W0", "short W0", "edge out of range", "float edges", "no W0", "a tensor", "int W0", "no nodes"])


def spoil(data, how):
    "A broken copy of `data`."
    if data.W0.numel() == 0 and how in ("nan W0", "short W0", "edge out of range"): how = "a tensor"   # nothing to spoil
    if how == "a tensor": return torch.ones(3, 3)
    bad = data.clone()
    if how == "nan W0": bad.W0 = bad.W0.clone(); bad.W0[0:1] = float("nan")
    if how == "short W0": bad.W0 = bad.W0[:-1]
    if how == "edge out of range": bad.edge_index = bad.edge_index.clone(); bad.edge_index[0, 0] = bad.num_nodes + 5
    if how == "float edges": bad.edge_index = bad.edge_index.float()
    if how == "no W0": del bad.W0
    if how == "int W0": bad.W0 = bad.W0.long()
    if how == "no nodes": bad = Data(edge_index=torch.empty(2, 0, dtype=torch.long), W0=torch.empty(0), num_nodes=0)
    return bad


RUNAWAY = ("running away", "became negative, non-finite", "does not depend on")   # valid input, documented refusals


@st.composite
def runnable(draw, classes=tuple(MODEL_SPECS)):
    "(model, data, sizes, stimulus attached?) with moderate parameters and, half the time, a stimulus matching the data."
    cls, kwargs, _ = draw(models(classes, corrupt=False))
    data, sizes = draw(networks())
    if data.W0.numel(): assume(cls is not PoissonGLM or kwargs["beta"] * kwargs["r"] < 0.5)   # exp link: keep it from exploding
    model = cls(**kwargs)
    if draw(st.booleans()):
        s_cls, s_kwargs, _, _ = draw(stimuli(sizes=sizes, corrupt=False).filter(lambda s: s[1]["batch_size"] == len(s[3])))
        model.add_stimulus(s_cls(**s_kwargs))
    return model, data, sizes


@SETTINGS
@given(runnable(), st.data())
def test_simulate(prepared, draw):
    model, data, sizes = prepared
    spec = dict(n_steps=(st.integers(1, 30), BAD_COUNT), verbose=(st.booleans(), None),
                equilibration_steps=(st.one_of(st.integers(0, 20), st.none()), st.sampled_from([-1, 1.5, "3"])),
                store_as_dtype=(st.sampled_from([torch.int, torch.int64, torch.float, torch.float64]), st.sampled_from(["int", int, 3, None])),
                propagation=(st.sampled_from(["auto", "matrix", "events"]), st.sampled_from(["fast", 1, None])),
                record=(st.sampled_from(["dense", "events"]), st.sampled_from(["sonata", 3, None])),
                return_state=(st.booleans(), st.sampled_from(["yes", 1, None])),
                state=(st.none(), st.sampled_from(["state", 3, torch.zeros(3)])))
    kwargs, bad = draw.draw(arguments(spec))
    if draw.draw(st.integers(0, 5)) == 0: data, bad = spoil(data, draw.draw(BAD_DATA)), bad + ["data"]
    if kwargs["propagation"] == "events" and hasattr(model, "update_activation"): bad = bad + ["propagation"]   # an SA model has no events
    inputs, state = snapshot((data, kwargs)), model_state(model)
    result = outcome(lambda: model.simulate(data, **kwargs), bad, allowed=RUNAWAY)
    assert unchanged(inputs, (data, kwargs))
    if bad: assert same_state(state, model_state(model)), "a call with invalid arguments did work"
    if result is not None:
        spikes, run_state = result if kwargs["return_state"] else (result, None)
        if kwargs["record"] == "events": spikes = spikes.to_dense(torch.int64).to(kwargs["store_as_dtype"])
        assert spikes.shape == (data.num_nodes, kwargs["n_steps"]) and spikes.dtype == kwargs["store_as_dtype"] and (spikes >= 0).all()
        if run_state is not None: assert run_state.clock == kwargs["n_steps"] and run_state.fingerprint["n_neurons"] == data.num_nodes


@SETTINGS
@given(runnable(classes=(RectifiedLNP, PoissonGLM, BernoulliGLM, RectifiedSAM)), st.data())
def test_tune(prepared, draw):
    model, data, sizes = prepared
    names = list(model.tunable_parameters)
    selection = st.one_of(st.sampled_from(["all", "model"]), st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    spec = dict(firing_rate=(positive(1., 100.), st.one_of(BAD_NUMBER, st.sampled_from([0., -5.]))),
                tunable_parameters=(selection, st.sampled_from([["T"], ["dt"], [], ["nope"], 3, None] + ([] if any(n.startswith("stimulus.") for n in names) else ["stimulus"]))),
                lr=(st.floats(1e-5, 1e-2), st.one_of(BAD_NUMBER, st.just(0.))), n_steps=(st.integers(1, 8), BAD_COUNT),
                n_epochs=(st.integers(1, 3), BAD_COUNT), verbose=(st.booleans(), None))
    kwargs, bad = draw.draw(arguments(spec))
    if draw.draw(st.integers(0, 5)) == 0: data, bad = spoil(data, draw.draw(BAD_DATA)), bad + ["data"]
    if not bad and draw.draw(st.booleans()):   # weights that ask for a gradient: tune must not give them one
        data = data.clone(); data.W0 = data.W0.clone().requires_grad_(True)
    inputs, state = snapshot((data, kwargs)), model_state(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # convergence after 1–3 epochs is not the point here
        estimates = outcome(lambda: model.tune(data, **kwargs), bad, allowed=RUNAWAY)
    assert unchanged(inputs, (data, kwargs))
    assert all(not p.requires_grad for p in model.parameters())
    if estimates is None:   # refused, or ran away part-way: nothing changed at all
        assert same_state(state, model_state(model))
        return
    assert estimates.shape == (kwargs["n_epochs"],)
    selected = names if kwargs["tunable_parameters"] == "all" else [n for n in names if not n.startswith("stimulus.")] \
        if kwargs["tunable_parameters"] == "model" else kwargs["tunable_parameters"]
    after = {k: v for k, v in model.state_dict().items()}
    assert all(torch.equal(after[k], state[0][k]) for k in after if k not in selected), "tune changed a parameter it was not asked to"


@SETTINGS
@given(runnable(), st.data())
def test_model_methods(prepared, draw):
    "add_stimulus, set_tunable, save and load with random valid and invalid arguments."
    model, data, sizes = prepared
    state = model_state(model)
    stimulus = draw.draw(st.sampled_from([lambda t: 0.0, "pulse", 3, None]))
    outcome(lambda: model.add_stimulus(stimulus), [] if callable(stimulus) else ["stimulus"])
    names = list(model.tunable_parameters)
    chosen = draw.draw(st.one_of(st.lists(st.sampled_from(names), unique=True) if names else st.just([]),
                                 st.sampled_from([["dt"], ["nope"], 3, None, [1]])))
    bad = [] if isinstance(chosen, list) and all(n in names for n in chosen) else ["names", "buffer", "unknown"]
    outcome(lambda: model.set_tunable(chosen), bad)
    model.requires_grad_(False)
    with tempfile.TemporaryDirectory() as folder:
        path = draw.draw(st.sampled_from(["model.pt", "missing/model.pt", 3, None]))
        target = Path(folder) / path if isinstance(path, str) else path
        outcome(lambda: model.save(target), [] if path == "model.pt" else ["path"])
        if path == "model.pt":
            before = model_state(model)
            model.load(target)
            assert same_state(before, model_state(model))
        outcome(lambda: model.load(Path(folder) / "absent.pt" if path == "model.pt" else path), ["path"])


# ---------------------------------------------------------------------------------------------------------------------
# Analysis

SPIKES = st.tuples(st.integers(1, 6), st.integers(2, 40), st.integers(0, 1000)).map(
    lambda a: torch.poisson(torch.full(a[:2], 0.3), generator=torch.Generator().manual_seed(a[2])).int())
BAD_SPIKES = st.sampled_from([torch.ones(5), torch.ones(2, 2, 2), [[0, 1]], None, "spikes"])
DT = (positive(0.1, 2.), st.sampled_from([0., -1., float("nan")]))   # a dt of another type, or inf: test_analysis_dt_checked


@SETTINGS
@given(st.sampled_from(["firing_rates", "mean_rate", "isis", "isi_cv", "raster_plot", "isi_histogram", "network_rates",
                        "psth", "psth_plot", "binned_correlation", "weight_heatmap", "tuning_curve"]), st.data())
def test_analysis(name, draw):
    spikes = draw.draw(SPIKES)
    spec = {"spikes": (st.just(spikes), BAD_SPIKES)}
    if name in ("firing_rates", "mean_rate", "isis", "isi_cv", "raster_plot", "isi_histogram", "network_rates", "psth", "psth_plot"):
        spec["dt"] = DT
    if name == "network_rates":   # n_networks = 0 or spikes that are no tensor: test_network_rates_checks_its_arguments
        spec["n_networks"] = (st.sampled_from([d for d in range(1, 7) if spikes.shape[0] % d == 0]), st.just(7))
        spec["spikes"] = (st.just(spikes), st.sampled_from([torch.ones(5), torch.ones(2, 2, 2)]))
    if name in ("psth", "psth_plot"):
        bin_size = draw.draw(st.integers(1, min(3, spikes.shape[1])))
        spec.update(period=(st.integers(1, max(1, spikes.shape[1] // bin_size)).map(lambda p: p * bin_size), st.sampled_from([0, -2, 2.5, "4"])),
                    bin_size=(st.just(bin_size), st.sampled_from([0, -1, 1.5, "1"])), start=(st.just(0), st.sampled_from([-1, 1.5, "0"])))
    if name == "binned_correlation": spec["bin_size"] = (st.integers(1, max(1, spikes.shape[1] // 2)), st.sampled_from([0, -1, 1.5, "1", 10**6]))
    if name == "weight_heatmap":
        spec = {"W": (st.sampled_from([torch.randn(4, 4), NormalGenerator(6, 0., 1., rng=torch.Generator().manual_seed(0)).generate(1)[0]]),
                      st.sampled_from([torch.ones(3, 4), torch.full((2, 2), float("nan")), torch.ones(3)]))}   # "W", None: test_weight_heatmap_names_W
    if name == "tuning_curve":
        spec = {"estimates": (st.lists(finite(0, 100), min_size=1, max_size=20).map(torch.tensor), st.sampled_from([torch.ones(0), torch.ones(2, 2)])),
                "target": (st.one_of(st.none(), positive()), st.sampled_from([float("nan"), "x"]))}   # estimates "x": test_tuning_curve_names_estimates
    kwargs, bad = draw.draw(arguments(spec))
    inputs = snapshot(kwargs)
    outcome(lambda: getattr(analysis, name)(**kwargs), bad)
    plt.close("all")
    assert unchanged(inputs, kwargs)


# ---------------------------------------------------------------------------------------------------------------------
# Defects found outside the model, stimulus and tuning notebooks: each fails today; remove the marker once it passes.

def test_mexican_hat_sigma_of_wrong_type_names_it():
    with pytest.raises((ValueError, TypeError), match="sigma_1"): MexicanHatGenerator(10, a=1., sigma_1="7", sigma_2=7.)


def test_dataset_refuses_pickles_without_advice(tmp_path):
    torch.save(Payload(tmp_path / "ran"), tmp_path / "0.pt")
    with pytest.raises(ValueError) as raised: ConnectivityDataset(tmp_path)
    assert not (tmp_path / "ran").exists()
    assert "0.pt" in str(raised.value) and "weights_only" not in str(raised.value)


def test_events_refused_before_any_work():
    model = RectifiedSAM(lambda_0=1., theta=0., tau=10., dt=1., r=0.1, b=0.1, rng=torch.Generator().manual_seed(0))
    network = NormalGenerator(10, mean=0., std=1., rng=torch.Generator().manual_seed(0)).generate(1)[0]
    before = model.rng.get_state()
    with pytest.raises(ValueError, match="propagation"): model.simulate(network, n_steps=10, verbose=False, propagation="events")
    assert torch.equal(model.rng.get_state(), before)


def test_numeric_strings_refused():
    with pytest.raises((ValueError, TypeError), match="lambda_0"):
        RectifiedLNP(lambda_0="100", theta=1e-4, T=20, tau=10., dt=0.1, r=0.0025, b=0.001)


def test_analysis_dt_checked():
    spikes = torch.ones(3, 10, dtype=torch.int32)
    for dt in ("one", None, float("inf")):
        with pytest.raises((ValueError, TypeError), match="dt"): analysis.firing_rates(spikes, dt)


def test_network_rates_checks_its_arguments():
    with pytest.raises((ValueError, TypeError), match="n_networks"): analysis.network_rates(torch.ones(4, 10), 1.0, 0)
    with pytest.raises((ValueError, TypeError), match="spikes"): analysis.network_rates([[0, 1]], 1.0, 1)


def test_weight_heatmap_names_W():
    for W in ("W", None):
        with pytest.raises((ValueError, TypeError), match="W"): analysis.weight_heatmap(W)
    plt.close("all")


def test_tuning_curve_names_estimates():
    with pytest.raises((ValueError, TypeError), match="estimates"): analysis.tuning_curve("x")
    plt.close("all")
