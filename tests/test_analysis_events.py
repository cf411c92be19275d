"""Every analysis function takes a `SpikeEvents` as well as a dense tensor, gives what it gives for the dense copy, and
never builds an [n_neurons, n_steps] array from events (issue 18)."""
import os, subprocess, sys, textwrap
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch
from spikeometric_nb import analysis
from spikeometric_nb.recording import SpikeEvents

ROOT = Path(__file__).resolve().parent.parent
SEEDS = range(8)


def dense_train(seed):
    "Poisson counts (many > 1 in a step) of 2–12 neurons over 30–400 steps; some neurons silent, some with one spike."
    g = torch.Generator().manual_seed(seed)
    n, T = int(torch.randint(2, 13, (1,), generator=g)), int(torch.randint(30, 401, (1,), generator=g))
    rate = torch.rand(n, 1, generator=g) * 0.8
    rate[torch.rand(n, 1, generator=g) < 0.25] = 0.                     # empty neurons
    rate[-1] = 0.                                                        # at least one
    counts = torch.poisson(rate.expand(n, T), generator=g).int()
    lone = int(torch.randint(0, n - 1, (1,), generator=g))
    counts[lone] = 0
    counts[lone, int(torch.randint(0, T, (1,), generator=g))] = 1        # a neuron with a single spike
    return counts


def events_of(dense, seed, dt=0.25):
    "The events of `dense` at a start_step != 0, in random order, some counts split over two events of one step."
    g = torch.Generator().manual_seed(1000 + seed)
    start = int(torch.randint(1, 10**6, (1,), generator=g))
    events = SpikeEvents.from_dense(dense, dt=dt, start_step=start)
    split = (events.count > 1) & (torch.rand(len(events), generator=g) < 0.5)
    first = events.count.clone()
    first[split] -= 1
    neuron = torch.cat([events.neuron, events.neuron[split]])
    step = torch.cat([events.step, events.step[split]])
    count = torch.cat([first, torch.ones(int(split.sum()), dtype=torch.int32)])
    order = torch.randperm(len(neuron), generator=g)
    scrambled = SpikeEvents(neuron[order], step[order], count[order], events.n_neurons, events.n_steps, start, dt)
    assert torch.equal(scrambled.to_dense(), dense.int())
    assert int(split.sum()) > 0 or not (dense > 1).any()                # a split count wherever there is one to split
    return scrambled


def columns(events): return [events.neuron.clone(), events.step.clone(), events.count.clone()]


def assert_same(a, b, exact=True):
    torch.testing.assert_close(a, b, equal_nan=True, **({"rtol": 0, "atol": 0} if exact else {}))


@pytest.mark.parametrize("seed", SEEDS)
def test_rates_and_intervals_equal_the_dense_path(seed):
    dense = dense_train(seed)
    events, dt = events_of(dense, seed), 0.25
    before = columns(events)
    assert_same(analysis.firing_rates(events, dt), analysis.firing_rates(dense, dt))
    assert_same(analysis.firing_rates(events), analysis.firing_rates(dense, dt))          # the events' own dt
    assert analysis.mean_rate(events) == analysis.mean_rate(dense, dt)
    assert_same(analysis.isis(events, dt), analysis.isis(dense, dt))                     # pooled, in the same order
    assert_same(analysis.isi_cv(events, dt), analysis.isi_cv(dense, dt))                 # NaN for the same neurons
    assert all(torch.equal(a, b) for a, b in zip(before, columns(events)))               # the events are not modified


@pytest.mark.parametrize("seed", SEEDS)
def test_batch_of_networks(seed):
    n_networks = 1 + seed % 4
    g = torch.Generator().manual_seed(seed)
    dense = torch.poisson(torch.rand(n_networks * 3, 1, generator=g).expand(-1, 100), generator=g).int()
    dense[1] = 0                                                            # a silent neuron in the first network
    events = events_of(dense, seed)
    assert_same(analysis.network_rates(events, 0.25, n_networks), analysis.network_rates(dense, 0.25, n_networks))
    assert_same(analysis.network_rates(events, n_networks=n_networks), analysis.network_rates(dense, 0.25, n_networks))
    if dense.shape[0] % 7:
        with pytest.raises(ValueError, match="n_networks=7 does not divide"): analysis.network_rates(events, 0.25, 7)


@pytest.mark.parametrize("seed", SEEDS)
def test_psth_and_correlation_equal_the_dense_path(seed):
    dense = dense_train(seed)
    events, dt, T = events_of(dense, seed), 0.25, dense.shape[1]
    g = torch.Generator().manual_seed(seed)
    for _ in range(5):
        B = int(torch.randint(1, 6, (1,), generator=g))
        P = B * int(torch.randint(1, max(2, T // (3 * B)), (1,), generator=g))
        t0 = int(torch.randint(0, T - P + 1, (1,), generator=g))             # counted from the first recorded step
        times, rates = analysis.psth(events, P, dt, bin_size=B, start=t0)
        dense_times, dense_rates = analysis.psth(dense, P, dt, bin_size=B, start=t0)
        assert_same(times, dense_times)
        assert_same(rates, dense_rates, exact=False)                          # float32 sums in another order
        assert_same(analysis.binned_correlation(events, B), analysis.binned_correlation(dense, B))
    with pytest.raises(ValueError, match=f"need start \\+ period <= {T}"): analysis.psth(events, 2, dt, start=T - 1)
    with pytest.raises(ValueError, match="complete bin"): analysis.binned_correlation(events, T)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_plots_draw_what_the_dense_path_draws(seed):
    dense = dense_train(seed)
    events, dt = events_of(dense, seed), 0.25
    left, right = analysis.raster_plot(events), analysis.raster_plot(dense, dt)
    # the same dots, each (neuron, step) with spikes once, in the same order; events at their times step·dt
    shift = torch.tensor([events.start_step * dt, 0.])
    torch.testing.assert_close(torch.as_tensor(left.collections[0].get_offsets().data),
                               torch.as_tensor(right.collections[0].get_offsets().data, dtype=torch.float64) + shift)
    xlim = (events.start_step * dt, (events.start_step + events.n_steps) * dt)
    torch.testing.assert_close(torch.tensor(left.get_xlim()), torch.tensor(xlim, dtype=torch.float64))
    left, right = analysis.isi_histogram(events, bins=10), analysis.isi_histogram(dense, dt, bins=10)
    assert [p.get_height() for p in left.patches] == [p.get_height() for p in right.patches]
    P = dense.shape[1] // 3
    left, right = analysis.psth_plot(events, P, start=2), analysis.psth_plot(dense, P, dt, start=2)
    torch.testing.assert_close(torch.tensor([p.get_height() for p in left.patches]),
                               torch.tensor([p.get_height() for p in right.patches]))
    assert [p.get_width() for p in left.patches] == [p.get_width() for p in right.patches]
    plt.close("all")


def test_dt_of_events():
    dense = dense_train(0)
    events = events_of(dense, 0, dt=0.5)
    with pytest.raises(ValueError, match="dt=1.0 ms differs from the events' dt=0.5 ms"): analysis.firing_rates(events, 1.)
    with pytest.raises(ValueError, match="dt must be given \\(ms\\) for a dense spike tensor"): analysis.isis(dense)
    unknown = SpikeEvents(events.neuron, events.step, events.count, events.n_neurons, events.n_steps, events.start_step)
    with pytest.raises(ValueError, match="dt must be given \\(ms\\): these SpikeEvents have no dt"):
        analysis.psth(unknown, 4)
    assert_same(analysis.isi_cv(unknown, 0.5), analysis.isi_cv(dense, 0.5))
    with pytest.raises(ValueError, match="dt must be a finite number > 0"): analysis.firing_rates(events, -1.)


MEMORY_CHECK = textwrap.dedent("""
    import resource, sys, time
    import matplotlib; matplotlib.use("Agg")
    import torch
    from spikeometric_nb import analysis
    from spikeometric_nb.recording import SpikeEvents
    N, T, S, dt = 500, 10**7, 50_000, 0.1
    g = torch.Generator().manual_seed(0)
    events = SpikeEvents(torch.randint(0, N, (S,), generator=g), torch.randint(0, T, (S,), generator=g) + 10**6,
                         torch.randint(1, 4, (S,), generator=g, dtype=torch.int32), N, T, 10**6, dt)
    small = SpikeEvents.from_dense(torch.ones(5, 20, dtype=torch.int32), dt)
    def run(spikes, B):
        analysis.firing_rates(spikes); analysis.mean_rate(spikes); analysis.network_rates(spikes, n_networks=5)
        analysis.isis(spikes); analysis.isi_cv(spikes)
        analysis.psth(spikes, period=10 * B, bin_size=B, start=3); analysis.binned_correlation(spikes, B)
        analysis.raster_plot(spikes); analysis.isi_histogram(spikes); analysis.psth_plot(spikes, 10 * B, bin_size=B)
    run(small, 1)                                            # threads, matplotlib and the allocator warmed up
    def address_space(): return int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
    margin = 2 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (address_space() + margin, resource.getrlimit(resource.RLIMIT_AS)[1]))
    rss, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    run(events, 10_000)                                      # 1,000 bins of 10,000 steps: [500, 1,000] for the correlation
    seconds, grown = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
    try: torch.zeros(N, T, dtype=torch.uint8); dense = "allocated"   # the control: the smallest dense copy (5 GB)
    except (RuntimeError, MemoryError): dense = "refused"
    print(f"{seconds:.2f} s, peak RSS grew {grown / 1024:.0f} MB, dense copy {dense}")
    """)


def test_events_are_analysed_without_a_dense_copy():
    # 500 neurons x 10^7 steps: a dense copy is 5e9 entries (5 GB as uint8, 20 GB as the int32 of to_dense). With the
    # address space capped at 2 GB above what the process already maps, any allocation near N x T fails, even one that
    # the kernel would back lazily (calloc'd zeros are never touched, so peak RSS alone would not see them). The
    # control at the end shows the cap refuses a dense copy. The 50,000 events need a few MB.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", MEMORY_CHECK], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = done.stdout.strip().splitlines()[-1]
    print(report)
    assert report.endswith("dense copy refused"), report
    seconds = float(report.split(" s,")[0])
    assert seconds < 60, report   # a few seconds here (2 cores); a pass over 5e9 entries would take far longer


CALLS = {"firing_rates": lambda s: analysis.firing_rates(s, 0.25), "mean_rate": lambda s: analysis.mean_rate(s, 0.25),
         "network_rates": lambda s: analysis.network_rates(s, 0.25, 2), "isis": lambda s: analysis.isis(s, 0.25),
         "isi_cv": lambda s: analysis.isi_cv(s, 0.25), "psth": lambda s: analysis.psth(s, 10, 0.25, bin_size=5),
         "binned_correlation": lambda s: analysis.binned_correlation(s, 5),
         "raster_plot": lambda s: analysis.raster_plot(s, 0.25), "isi_histogram": lambda s: analysis.isi_histogram(s, 0.25),
         "psth_plot": lambda s: analysis.psth_plot(s, 10, 0.25, bin_size=5)}


@pytest.mark.parametrize("name", CALLS)
def test_each_function_takes_events(name):
    "Every analysis function that takes spikes takes their events (before the fix: 'spikes must be a ... tensor')."
    assert set(CALLS) == {n for n in analysis.__all__ if callable(getattr(analysis, n)) and n != "Spikes"} - {
        "weight_heatmap", "tuning_curve"}   # the two that take no spikes
    dense = torch.poisson(torch.full((4, 40), 0.5), generator=torch.Generator().manual_seed(0)).int()
    result = CALLS[name](SpikeEvents.from_dense(dense, 0.25, start_step=7))
    if isinstance(result, plt.Axes): plt.close("all")
    else: assert_same(result, CALLS[name](dense))
