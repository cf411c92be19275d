"""Property tests of the recording and file-format entry points (SpikeEvents, SimulationState.load, the writers and the
formats), in the manner of test_fuzz.py: invalid arguments raise ValueError/TypeError naming one of them before any work,
valid ones run and round-trip, and nothing passed in is changed. About 30 s."""
import os, tempfile
from pathlib import Path
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from spikeometric_nb.recording import SpikeEvents
from spikeometric_nb.simulation import SimulationState
from spikeometric_nb.io import NWBWriter, SonataWriter, from_neo, read_nwb, read_sonata, to_neo, write_nwb, write_sonata

SETTINGS = settings(max_examples=int(os.environ.get("SPIKEOMETRIC_NB_FUZZ_EXAMPLES", 60)), deadline=None,
                    suppress_health_check=list(HealthCheck), database=None)
BAD_INT = st.sampled_from([-1, 1.5, "3", None, True, float("nan")])
BAD_DT = st.sampled_from([0., -1., float("nan"), float("inf"), "1", True])


@st.composite
def counts(draw):
    "A dense recording [N, T] of spike counts (Poisson-like: mostly 0, some above 1)."
    n, t = draw(st.integers(1, 6)), draw(st.integers(1, 12))
    values = draw(st.lists(st.sampled_from([0, 0, 0, 1, 1, 2, 5]), min_size=n * t, max_size=n * t))
    return torch.tensor(values, dtype=torch.int32).reshape(n, t)


@SETTINGS
@given(counts(), st.integers(0, 10**9), st.sampled_from([0.1, 1.0, 0.025]), st.data())
def test_spike_events(spikes, start, dt, draw):
    events = SpikeEvents.from_dense(spikes, dt=dt, start_step=start)
    assert torch.equal(events.to_dense(), spikes) and events.n_spikes == int(spikes.sum())
    columns = dict(neuron=events.neuron.clone(), step=events.step.clone(), count=events.count.clone())
    sizes = dict(n_neurons=events.n_neurons, n_steps=events.n_steps, start_step=start, dt=dt)
    bad_name = draw.draw(st.sampled_from(["none", "n_neurons", "n_steps", "start_step", "dt", "count", "step"]))
    if bad_name == "none":
        assert SpikeEvents(**columns, **sizes) == events
        return
    if bad_name in ("count", "step") and not len(events): return
    if bad_name == "count": columns["count"][0] = 0
    elif bad_name == "step": columns["step"][0] = start + events.n_steps
    elif bad_name == "dt": sizes["dt"] = draw.draw(BAD_DT)
    else: sizes[bad_name] = draw.draw(BAD_INT)
    before = {k: v.clone() for k, v in columns.items()}
    with pytest.raises((ValueError, TypeError), match=bad_name): SpikeEvents(**columns, **sizes)
    assert all(torch.equal(before[k], columns[k]) for k in columns)


@SETTINGS
@given(counts(), st.sampled_from([0.1, 1.0]), st.one_of(st.none(), BAD_DT))
def test_formats(spikes, dt, bad_dt):
    before = spikes.clone()
    with tempfile.TemporaryDirectory() as folder:
        for write, read, suffix in ((write_sonata, read_sonata, ".h5"), (write_nwb, read_nwb, ".nwb")):
            path = Path(folder) / f"spikes{suffix}"
            if bad_dt is not None:
                with pytest.raises((ValueError, TypeError), match="dt"): write(path, spikes, bad_dt)
                assert not path.exists()
                continue
            events, network = read(write(path, spikes, dt))
            assert torch.equal(events.to_dense(), spikes) and network is None
        if bad_dt is None: assert torch.equal(from_neo(to_neo(spikes, dt)).to_dense(), spikes)
    assert torch.equal(spikes, before)


@SETTINGS
@given(st.binary(min_size=0, max_size=400))
def test_state_files_refused_by_name(payload):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.state"
        path.write_bytes(payload)
        with pytest.raises(ValueError, match="run.state"): SimulationState.load(path)


@SETTINGS
@given(st.sampled_from([SonataWriter, NWBWriter]), st.one_of(st.integers(1, 10**6), BAD_INT), st.sampled_from([True, False, 1]))
def test_writer_arguments(writer, chunk_events, checkpoints):
    with tempfile.TemporaryDirectory() as folder:
        if isinstance(chunk_events, bool) or not isinstance(chunk_events, int) or chunk_events < 1:
            with pytest.raises((ValueError, TypeError), match="chunk_events"): writer(Path(folder) / "x", chunk_events=chunk_events)
        else: assert writer(Path(folder) / "x", chunk_events=chunk_events, checkpoints=checkpoints).chunk_events == chunk_events
        assert list(Path(folder).iterdir()) == []   # making a writer writes nothing
