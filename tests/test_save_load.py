"""`save` / `load` of every model class: a model loaded from a file becomes the saved model, or nothing changes.

For each built-in model: a model saved with one set of arguments and loaded into a model of the same class built with
other arguments ends with the same parameters and buffers, the same filter length K, and the same spikes for the same
generator seed; with each stimulus class attached, the stimulus becomes the saved one too. Loading is all-or-nothing: a
file of another model class, a file with values the constructor refuses, or a damaged file raises a ValueError that
names the file (and never suggests `weights_only=False`) and leaves the model bit-for-bit as it was. A pickled payload
is refused without running. About 15 s on a 2-core CPU.
"""
import os, pickle
import pytest
import torch
from spikeometric_nb.datasets import NormalGenerator
from spikeometric_nb.models import BernoulliGLM, PoissonGLM, RectifiedLNP, RectifiedSAM, ThresholdSAM
from spikeometric_nb.stimulus import LoadedStimulus, PoissonStimulus, RegularStimulus, SinStimulus

NETWORK = NormalGenerator(12, mean=0, std=1, glorot=True, rng=torch.Generator().manual_seed(2)).generate(1)[0]
seed = lambda: torch.Generator().manual_seed(11)

# class name: (arguments of the saved model, other arguments, both valid, every value different)
MODELS = {
    RectifiedLNP: (dict(lambda_0=3., theta=0.1, T=2., tau=1., dt=0.5, r=0.5, b=0.3),
                   dict(lambda_0=100., theta=1e-4, T=20, tau=10., dt=0.1, r=0.0025, b=0.001)),
    PoissonGLM: (dict(alpha=20., beta=0.7, T=3., tau=2., dt=1., r=0.2, b=-0.5),
                 dict(alpha=50., beta=0.5, T=0.5, tau=0.1, dt=0.1, r=0.5, b=0.2)),
    BernoulliGLM: (dict(theta=2., dt=1., coupling_window=5, alpha=0.2, abs_ref_scale=1, abs_ref_strength=-10.,
                        rel_ref_scale=1, rel_ref_strength=-3., beta=0.5, r=2.),
                   dict(theta=5., dt=0.5, coupling_window=1, alpha=0.1, abs_ref_scale=2, abs_ref_strength=-100.,
                        rel_ref_scale=3, rel_ref_strength=-30., beta=1., r=1.)),
    RectifiedSAM: (dict(lambda_0=0.3, theta=0.1, tau=4., dt=0.5, r=2., b=0.4),
                   dict(lambda_0=1., theta=0., tau=10., dt=1., r=1., b=0.)),
    ThresholdSAM: (dict(r=0.5, b=0.3, tau=10., dt=1., sigma=1., rho=0.5, theta=0.5),
                   dict(r=1., b=1., tau=2., dt=0.5, sigma=2., rho=0.3, theta=0.3)),
}


def snapshot(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_round_trip_becomes_the_saved_model(cls, tmp_path):
    saved_args, other_args = MODELS[cls]
    saved = cls(**saved_args, rng=seed())
    saved.save(tmp_path / "model.pt")
    other = cls(**other_args, rng=seed())
    assert not same(snapshot(other), snapshot(saved))
    other.load(tmp_path / "model.pt")
    assert same(snapshot(other), snapshot(saved))
    assert getattr(other, "K", None) == getattr(saved, "K", None)
    assert other.filter_bank().shape == saved.filter_bank().shape
    fresh = cls(**saved_args, rng=seed())
    assert torch.equal(other.simulate(NETWORK, n_steps=200, verbose=False), fresh.simulate(NETWORK, n_steps=200, verbose=False))


def test_bernoulli_windows_follow_the_file(tmp_path):
    "The issue's case: a BernoulliGLM saved with coupling_window=5 and loaded into one built with 1 has K = 5, not 2."
    saved = BernoulliGLM(theta=2., dt=1., coupling_window=5, alpha=0.2, abs_ref_scale=1, abs_ref_strength=-10.,
                         rel_ref_scale=1, rel_ref_strength=-3., beta=0.5, r=2.)
    saved.save(tmp_path / "glm.pt")
    other = BernoulliGLM(theta=2., dt=1., coupling_window=1, alpha=0.2, abs_ref_scale=1, abs_ref_strength=-10.,
                         rel_ref_scale=1, rel_ref_strength=-3., beta=0.5, r=2.)
    assert other.K == 2
    other.load(tmp_path / "glm.pt")
    assert (other.K, other.coupling_window.item(), other.T.item()) == (5, 5, 5)
    W, _ = other.connectivity_filter(NETWORK.W0, NETWORK.edge_index, num_nodes=12)
    assert W.shape[1] == 5


@pytest.mark.parametrize("cls", [RectifiedLNP, PoissonGLM], ids=lambda c: c.__name__)
def test_filter_length_follows_loaded_T_and_dt(cls, tmp_path):
    "T and dt are buffers: K = round(T / dt) is computed from them, so it follows a load."
    saved_args, other_args = MODELS[cls]
    saved = cls(**{**saved_args, "T": 7., "dt": 0.25})
    saved.save(tmp_path / "model.pt")
    other = cls(**other_args)
    other.load(tmp_path / "model.pt")
    assert other.K == 28 and other.filter_bank().shape == (1, 28)


def make_stimuli(tmp_path, variant: int) -> dict:
    "One stimulus of each class for two networks of 12 neurons in one batch; `variant` changes every value but the batches."
    masks = [torch.arange(12) < 4 + variant, torch.arange(12) >= 8 - variant]
    torch.save(torch.rand(12, 30, 2, generator=torch.Generator().manual_seed(variant)), tmp_path / f"recording{variant}.pt")
    return {
        "regular": RegularStimulus(strength=1. + variant, period=10 + variant, tau=2 + variant, stop=90 + variant, stimulus_masks=masks,
                                   batch_size=2, start=variant, dt=1. + variant),
        "sin": SinStimulus(amplitude=1. + variant, period=10. + variant, duration=80 + variant, stimulus_masks=masks, batch_size=2,
                           phase=0.1 * variant, baseline=0.2 * variant, start=variant, dt=0.5 + variant),
        "poisson": PoissonStimulus(strength=1. + variant, mean_interval=5. + variant, duration=60, stimulus_masks=masks, batch_size=2,
                                   tau=2, dt=1. + variant, start=3, rng=torch.Generator().manual_seed(variant)),
        "loaded": LoadedStimulus(tmp_path / f"recording{variant}.pt", batch_size=2),
    }


@pytest.mark.parametrize("kind", ["regular", "sin", "poisson", "loaded"])
def test_round_trip_with_a_stimulus(kind, tmp_path):
    "A model's file carries its stimulus module; loaded, the other model's stimulus drives the same neurons at the same times."
    saved = RectifiedLNP(**MODELS[RectifiedLNP][0])
    saved.add_stimulus(make_stimuli(tmp_path, 0)[kind])
    saved.save(tmp_path / "driven.pt")
    other = RectifiedLNP(**MODELS[RectifiedLNP][1])
    other.add_stimulus(make_stimuli(tmp_path, 1)[kind])
    assert not torch.equal(other.stimulus(torch.arange(100)), saved.stimulus(torch.arange(100)))
    other.load(tmp_path / "driven.pt")
    assert same(snapshot(other), snapshot(saved))
    assert torch.equal(other.stimulus(torch.arange(100)), saved.stimulus(torch.arange(100)))
    assert all(torch.equal(other.stimulus(t), saved.stimulus(t)) for t in range(0, 100, 7))


def test_stimulus_of_other_batches_changes_nothing(tmp_path):
    "Masks for other network sizes (same total) would leave the stimulus's batches stale: refused, nothing copied."
    saved = RectifiedLNP(**MODELS[RectifiedLNP][0])
    saved.add_stimulus(RegularStimulus(1., 10, 2, 90, stimulus_masks=[torch.ones(4, dtype=torch.bool), torch.ones(8, dtype=torch.bool)]))
    saved.save(tmp_path / "driven.pt")
    other = RectifiedLNP(**MODELS[RectifiedLNP][1])
    other.add_stimulus(RegularStimulus(2., 20, 3, 50, stimulus_masks=[torch.ones(6, dtype=torch.bool), torch.ones(6, dtype=torch.bool)]))
    before = snapshot(other)
    with pytest.raises(ValueError, match=r"stimulus.split_points must be \[6, 6\]"): other.load(tmp_path / "driven.pt")
    assert same(snapshot(other), before)


@pytest.mark.parametrize("source", MODELS, ids=lambda c: c.__name__)
def test_file_of_another_model_changes_nothing(source, tmp_path):
    source(**MODELS[source][0]).save(tmp_path / "source.pt")
    for target in MODELS:
        if target is source: continue
        model = target(**MODELS[target][1])
        before = snapshot(model)
        with pytest.raises(ValueError) as raised: model.load(tmp_path / "source.pt")
        message = str(raised.value)
        assert f"holds a {source.__name__}, not a {target.__name__}" in message and repr(str(tmp_path / "source.pt")) in message
        assert same(snapshot(model), before)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_values_the_constructor_refuses_change_nothing(cls, tmp_path):
    "A file whose dt (or T, or windows) the constructor would refuse: ValueError naming it, the model unchanged."
    saved = cls(**MODELS[cls][0])
    saved.dt.fill_(-1.)
    saved.save(tmp_path / "bad.pt")
    saved = cls(**MODELS[cls][0])
    name = "beta" if cls is PoissonGLM else "theta"
    getattr(saved, name).data.fill_(float("nan"))
    saved.save(tmp_path / "nan.pt")
    model = cls(**MODELS[cls][1])
    before = snapshot(model)
    for file, message in (("bad.pt", "dt must be"), ("nan.pt", f"{name} must be finite")):
        with pytest.raises(ValueError, match="holds values") as raised: model.load(tmp_path / file)
        assert message in str(raised.value), str(raised.value)
        assert same(snapshot(model), before)


class Payload:
    "Unpickling this would run a shell command."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f"touch {self.marker}",))


def damaged_files(tmp_path) -> dict:
    "file name: what the error must say."
    good = RectifiedLNP(**MODELS[RectifiedLNP][0])
    good.save(tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.pt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "text.pt").write_text("theta = 0.1\n")
    torch.save(torch.ones(3), tmp_path / "tensor.pt")
    torch.save({"theta": 0.1, "dt": 0.5}, tmp_path / "numbers.pt")
    torch.save({**good.state_dict(), "extra": torch.ones(1)}, tmp_path / "extra.pt")
    torch.save({k: v for k, v in good.state_dict().items() if k != "b"}, tmp_path / "missing.pt")
    torch.save({**good.state_dict(), "T": torch.ones(3)}, tmp_path / "shape.pt")
    torch.save({**good.state_dict(), "T": torch.tensor(True)}, tmp_path / "dtype.pt")
    torch.save({**good.state_dict(), "theta": Payload(tmp_path / "ran")}, tmp_path / "payload.pt")
    with open(tmp_path / "pickle.pt", "wb") as f: pickle.dump(Payload(tmp_path / "ran"), f)
    (tmp_path / "folder.pt").mkdir()
    return {"empty.pt": "is empty", "truncated.pt": "not a complete file", "garbage.pt": "",
            "text.pt": "not a complete file", "tensor.pt": "holds a Tensor, not the state_dict", "numbers.pt": "holds a dict, not the state_dict",
            "extra.pt": "unexpected ['extra']", "missing.pt": "missing ['b']", "shape.pt": "T must be a number",
            "dtype.pt": "holds T as torch.bool", "payload.pt": "holds Python objects other than tensors",
            "pickle.pt": "", "folder.pt": "is not a file", "absent.pt": "is not a file"}


def test_damaged_files_change_nothing(tmp_path):
    files = damaged_files(tmp_path)
    model = RectifiedLNP(**MODELS[RectifiedLNP][1])
    before = snapshot(model)
    for file, message in files.items():
        with pytest.raises(ValueError) as raised: model.load(tmp_path / file)
        text = str(raised.value)
        assert repr(str(tmp_path / file)) in text and message in text and "weights_only" not in text, (file, text)
        assert same(snapshot(model), before), file
    assert not (tmp_path / "ran").exists(), "a pickled payload ran"


def test_saved_file_loads_with_plain_torch(tmp_path):
    "The file stays a plain state_dict (1.0.3's format): torch.load(weights_only=True) and load_state_dict read it."
    model = BernoulliGLM(**MODELS[BernoulliGLM][0])
    model.save(tmp_path / "glm.pt")
    state = torch.load(tmp_path / "glm.pt", weights_only=True)
    assert state._metadata[""]["model"] == "BernoulliGLM"
    other = BernoulliGLM(**MODELS[BernoulliGLM][0])
    other.load_state_dict(state)
    assert same(snapshot(other), snapshot(model))
