"The engine runs unchanged on CUDA: simulate, tune and a batched stimulus on the GPU agree with the CPU statistically (skipped without a GPU)."
import pytest
import torch
from torch_geometric.loader import DataLoader

from spikeometric_nb.datasets import NormalGenerator
from spikeometric_nb.models import BernoulliGLM, RectifiedLNP
from spikeometric_nb.stimulus import RegularStimulus

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def _networks():
    return next(iter(DataLoader(NormalGenerator(200, mean=0, std=5, glorot=True, rng=torch.Generator().manual_seed(0)).generate(5), batch_size=5)))


def _glm(device):
    return BernoulliGLM(theta=5., dt=1., coupling_window=5, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100., rel_ref_scale=7,
                        rel_ref_strength=-30., beta=0.5, r=1., rng=torch.Generator().manual_seed(0)).to(device)


def test_rates_agree_between_cpu_and_cuda():
    # 1,000 neurons at ≈7 Hz over 10,000 steps: ≈70,000 spikes per run, a counting error of ≈0.4 %;
    # the difference of two runs has ≈0.6 %, so 4 % is far beyond noise and catches a wrong engine
    data = _networks()
    rates = {}
    for device in ("cpu", "cuda"):
        model = _glm(device)
        spikes = model.simulate(data.to(device), n_steps=10_000, verbose=False)
        assert spikes.device.type == device
        rates[device] = spikes.float().mean().item() * 1000
    assert abs(rates["cuda"] - rates["cpu"]) < 0.04 * rates["cpu"], rates


def test_tune_and_stimulus_on_cuda():
    data = _networks().to("cuda")
    model = _glm("cuda")
    model.add_stimulus(RegularStimulus(strength=2., period=50, tau=10, stop=10**6, stimulus_masks=[torch.arange(200) < 20] * 5, batch_size=5))
    model.to("cuda")
    estimates = model.tune(data, firing_rate=20., tunable_parameters=["theta"], lr=0.05, n_steps=50, n_epochs=100, verbose=False)
    rate = model.simulate(data, n_steps=10_000, verbose=False).float().mean().item() * 1000
    # ≈200,000 spikes: counting noise is 0.2 %; 5 % covers Adam's jitter of theta at lr = 0.05
    assert abs(rate - 20.) < 0.05 * 20., (rate, estimates[-5:])
    assert model.theta.device.type == "cuda" and not model.theta.requires_grad
