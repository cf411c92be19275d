"""Round trips of random recordings through every format of `spikeometric_nb.io` (SONATA, NWB, Neo, and the streaming
writers driven chunk by chunk), and a SONATA file read by libsonata, the reference C++ reader, where it is installed."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

pytest.importorskip("h5py")
pytest.importorskip("pynwb")
pytest.importorskip("neo")
pynwb = pytest.importorskip("pynwb")

from torch_geometric.data import Data                                     # noqa: E402
from torch_geometric.loader import DataLoader                             # noqa: E402
from spikeometric_nb.recording import SpikeEvents                         # noqa: E402
from spikeometric_nb.io import (NWBWriter, SonataWriter, from_neo, read_nwb, read_sonata, to_neo,  # noqa: E402
                                write_nwb, write_sonata)


@st.composite
def recordings(draw):
    "A random recording: counts up to 5, any span (possibly silent), steps up to about 1e9, a few step lengths."
    n_neurons, n_steps = draw(st.integers(1, 6)), draw(st.integers(0, 30))
    start_step = draw(st.sampled_from([0, 7, 999_999_990, 10**9]))
    dt = draw(st.sampled_from([0.1, 1.0, 0.025, 0.5, 1 / 3]))
    counts = draw(st.lists(st.integers(0, 5), min_size=n_neurons * n_steps, max_size=n_neurons * n_steps))
    dense = torch.tensor(counts, dtype=torch.int32).reshape(n_neurons, n_steps)
    return SpikeEvents.from_dense(dense, dt=dt, start_step=start_step)


def _network(n_neurons, seed):
    "A random network of n_neurons (a batch of two when it can be split), weights of both signs."
    g = torch.Generator().manual_seed(seed)
    def one(n):
        E = int(torch.randint(0, n * n + 1, (1,), generator=g))
        return Data(edge_index=torch.randint(0, n, (2, E), generator=g), W0=torch.randn(E, generator=g), num_nodes=n)
    if n_neurons < 2: return one(n_neurons)
    return next(iter(DataLoader([one(n_neurons // 2), one(n_neurons - n_neurons // 2)], batch_size=2)))


def _same_network(a, b):
    for name in ("edge_index", "W0", "num_nodes", "ptr", "batch"):
        x, y = getattr(a, name, None), getattr(b, name, None)
        assert (x is None) == (y is None), name
        if isinstance(x, torch.Tensor): assert x.dtype == y.dtype and torch.equal(x, y), name
        else: assert x == y, name


def _drive(writer, events, network, steps_per_chunk):
    "Hand events to a writer as simulate does: begin, events of each chunk of steps, chunk_done, result."
    writer.begin(events.n_neurons, events.n_steps, events.start_step, events.dt, network, None)
    writer.started(None)
    dense = events.to_dense()
    for first in range(0, events.n_steps, steps_per_chunk):
        counts = dense[:, first:first + steps_per_chunk]
        step, neuron = counts.T.nonzero(as_tuple=True)
        writer.add_events(neuron, step + events.start_step + first, counts[neuron, step])
        writer.chunk_done(first + counts.shape[1], None)
    return writer.result()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=recordings(), seed=st.integers(0, 1000), steps_per_chunk=st.integers(1, 7), chunk_events=st.integers(1, 10))
def test_every_format_gives_back_what_it_was_given(tmp_path_factory, events, seed, steps_per_chunk, chunk_events):
    folder = tmp_path_factory.mktemp("io")
    network = _network(events.n_neurons, seed)
    for write, read, suffix in ((write_sonata, read_sonata, ".h5"), (write_nwb, read_nwb, ".nwb")):
        back, back_network = read(write(folder / f"whole{suffix}", events, network=network))
        assert back == events
        _same_network(back_network, network)
    assert from_neo(to_neo(events, network=network)) == events
    if events.n_steps:   # a writer gets at least one step from simulate
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sonata = _drive(SonataWriter(folder / "streamed.h5", chunk_events=chunk_events, checkpoints=False), events, network, steps_per_chunk)
            nwb = _drive(NWBWriter(folder / "streamed.nwb", block_spikes=chunk_events, chunk_events=chunk_events, checkpoints=False),
                         events, network, steps_per_chunk)
        for read, path in ((read_sonata, sonata), (read_nwb, nwb)):
            back, back_network = read(path)
            assert back == events
            _same_network(back_network, network)


def test_sonata_file_reads_in_libsonata(tmp_path):
    libsonata = pytest.importorskip("libsonata")
    network = Data(edge_index=torch.tensor([[0, 1, 2], [1, 2, 0]]), W0=torch.tensor([0.5, -1.0, 2.0]), num_nodes=3)
    dense = torch.tensor([[0, 1, 0, 0, 2], [1, 0, 0, 3, 0], [0, 1, 0, 0, 0]])
    path = write_sonata(tmp_path / "small.h5", dense, 0.5, network=network, population="v1")
    spikes = libsonata.SpikeReader(str(path))["v1"]
    assert spikes.sorting == "by_time"
    assert spikes.get() == [(1, 0.0), (0, 0.5), (2, 0.5), (1, 1.5), (1, 1.5), (1, 1.5), (0, 2.0), (0, 2.0)]
    edges = libsonata.EdgeStorage(str(path)).open_population("v1")
    everything = libsonata.Selection(np.arange(edges.size))
    assert (edges.source, edges.target) == ("v1", "v1")
    assert edges.source_nodes(everything).tolist() == [0, 1, 2] and edges.target_nodes(everything).tolist() == [1, 2, 0]
    assert edges.get_attribute("syn_weight", everything).tolist() == [0.5, -1.0, 2.0]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=recordings(), seed=st.integers(0, 1000))
def test_neo_reads_our_nwb_files(tmp_path_factory, events, seed):
    "Neo's own NWB reader (neo.io.NWBIO) reads the files of write_nwb and NWBWriter: each unit's spike times in s and the span."
    import neo
    folder = tmp_path_factory.mktemp("neo")
    network = _network(events.n_neurons, seed)
    paths = [write_nwb(folder / "whole.nwb", events, network=network)]
    if events.n_steps:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            paths.append(_drive(NWBWriter(folder / "streamed.nwb", chunk_events=3, checkpoints=False), events, network, 4))
    dense, seconds = events.to_dense(), events.dt / 1000
    for path in paths:
        trains = neo.io.NWBIO(str(path), "r").read_all_blocks()[0].segments[0].spiketrains
        assert len(trains) == events.n_neurons
        for neuron, train in enumerate(trains):
            steps = np.repeat(np.arange(events.n_steps), dense[neuron].numpy()) + events.start_step
            assert np.allclose(train.rescale("s").magnitude, steps * seconds, rtol=1e-12, atol=0), (path.name, neuron)
            assert (float(train.t_start.rescale("s")), float(train.t_stop.rescale("s"))) == pytest.approx(
                (events.start_step * seconds, (events.start_step + events.n_steps) * seconds), rel=1e-12)
        assert list(pynwb.validate(path=str(path))) == []
