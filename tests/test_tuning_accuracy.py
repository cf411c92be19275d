"""Statistical checks of tune() with the seed tutorial's own call: 24 Mexican-hat rings of 100 neurons, batches of 5,
RectifiedLNP(lambda_0=100., theta=1e-4, T=20, tau=10., dt=0.1, r=0.0025, b=0.001), and
model.tune(data, firing_rate, tunable_parameters=["theta"], n_steps=10, lr=1e-6, n_epochs=100) per batch of the first 20.

* `test_seed_call_reaches_target` (≈15 s): other targets (50 and 80 Hz) land within 1 %. The tuned rate is measured
  afresh on the 4 test rings over 50,000 steps: ≈100,000–160,000 spikes, so the counting noise is ≈0.3 %; the 1 % bound
  is the specification itself, not a tolerance fitted to the result.
* `test_precision_across_seeds` (slow: ≈5 min of CPU, ≈3 min on 2 cores; runs with SPIKEOMETRIC_NB_SLOW=1): across 20
  seeds, each tuned rate measured over 500,000 steps on the 4 test rings (≈1.25 M spikes: a counting noise of 0.09 %), the
  mean is within 0.2 % of 62.5 Hz and the standard deviation at most 0.3 %. Measured on a 2-core CPU: mean +0.028 %,
  standard deviation 0.255 %, the same before and after tune learned to warn about convergence (bit-identical rates);
  with whole epochs in the compiled loop (issue 19: other random numbers, 8x faster) mean -0.068 %, deviation 0.258 %.
  The standard error of a mean of 20 such rates is 0.255 / √20 ≈ 0.06 %, so 0.2 % is more than three of them; the
  standard deviation of 20 draws scatters by ≈16 % of itself, so 0.3 % leaves room for one standard error above 0.255 %.
  The same run checks the ConvergenceWarning: every seed's first two calls warn (100 epochs do not bring the rate down
  from ≈78 Hz) and its last call never does.
"""
import concurrent.futures as futures
import multiprocessing, os, statistics, warnings
import pytest
import torch
from torch_geometric.loader import DataLoader
from spikeometric_nb.datasets import MexicanHatGenerator
from spikeometric_nb.models import RectifiedLNP


def tune_as_the_seed(target: float, seed: int):
    "The tuned model and the ConvergenceWarnings of each of the 4 tune calls."
    dataset = MexicanHatGenerator(100, a=1.0015, sigma_1=6.98, sigma_2=7.).generate(24)
    torch.manual_seed(seed)
    model = RectifiedLNP(lambda_0=100., theta=1e-4, T=20, tau=10., dt=0.1, r=0.0025, b=0.001)
    warned = []
    for data in DataLoader(dataset[:20], batch_size=5):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.tune(data, firing_rate=target, tunable_parameters=["theta"], n_steps=10, lr=1e-6, n_epochs=100, verbose=False)
        warned.append(any(w.category.__name__ == "ConvergenceWarning" for w in caught))
    return model, next(iter(DataLoader(dataset[20:], batch_size=5))), warned


@pytest.mark.parametrize("target, seed", [(50.0, 3), (80.0, 4)])
def test_seed_call_reaches_target(target, seed):
    model, test, _ = tune_as_the_seed(target, seed)
    spikes = model.simulate(test, n_steps=50_000, verbose=False)
    rate = spikes.float().mean().item() / 0.1 * 1000
    assert abs(rate - target) < 0.01 * target, f"tuned to {rate:.2f} Hz for a target of {target} Hz"


def tuned_rate(seed: int) -> tuple:
    "(rate over 500,000 steps of the 4 test rings in Hz, warned per tune call) for one seed of the seed tutorial's call."
    model, test, warned = tune_as_the_seed(62.5, seed)
    spikes = model.simulate(test, n_steps=500_000, verbose=False, store_as_dtype=torch.uint8)   # 200 MB
    return spikes.sum(dtype=torch.int64).item() / spikes.numel() / 0.1 * 1000, warned


@pytest.mark.skipif(os.environ.get("SPIKEOMETRIC_NB_SLOW") != "1", reason="slow (≈3 min on 2 cores): set SPIKEOMETRIC_NB_SLOW=1")
def test_precision_across_seeds():
    workers = min(20, os.cpu_count() or 1)
    with futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(tuned_rate, range(20)))
    deviations = [rate / 62.5 - 1 for rate, _ in results]
    mean, spread = statistics.mean(deviations), statistics.stdev(deviations)
    report = f"mean {mean:+.3%}, standard deviation {spread:.3%} over 20 seeds: " + ", ".join(f"{d:+.2%}" for d in deviations)
    assert abs(mean) < 0.002, report
    assert spread <= 0.003, report
    assert all(warned[:2] == [True, True] and not warned[3] for _, warned in results), [warned for _, warned in results]
