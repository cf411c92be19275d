"""A run streamed to SONATA and killed from outside in the middle (SIGKILL, at a moment the test does not choose: during a
step, a chunk file or a checkpoint): every chunk file on disk reads back intact, and the run resumes from its last
checkpoint to the spikes of one uninterrupted run. About a minute on a 2-core machine."""
import signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import torch
from spikeometric_nb.recording import SpikeEvents
from spikeometric_nb.io import SonataWriter, read_sonata

RUN = """
import sys, torch
from spikeometric_nb.datasets import NormalGenerator
from spikeometric_nb.models import BernoulliGLM
from spikeometric_nb.io import SonataWriter
network = NormalGenerator(5000, mean=0., std=5., sparsity=0.98, glorot=True, rng=torch.Generator().manual_seed(0)).generate(1, sparse=True)[0]
model = BernoulliGLM(theta=4.8, dt=1., coupling_window=20, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100., rel_ref_scale=7,
                     rel_ref_strength=-30., beta=0.5, r=1., rng=torch.Generator().manual_seed(0))
mode, path = sys.argv[1], sys.argv[2]
if mode == "write": model.simulate(network, 40_000, verbose=False, record=SonataWriter(path, chunk_events=20_000))
elif mode == "resume":
    writer = SonataWriter.resume(path)
    model.simulate(network, writer.steps_left, verbose=False, state=writer.checkpoint, record=writer)
else: torch.save(model.simulate(network, 40_000, verbose=False, record="events").__dict__, path)
"""


def span(events, first, stop):
    "The events of steps first … stop − 1."
    inside = (events.step >= first) & (events.step < stop)
    return SpikeEvents(events.neuron[inside], events.step[inside], events.count[inside], events.n_neurons, stop - first, first, events.dt)


def test_killed_stream_resumes_to_the_uninterrupted_run(tmp_path):
    script, target = tmp_path / "run.py", tmp_path / "run.h5"
    script.write_text(RUN)
    parts = Path(str(target) + ".parts")
    process = subprocess.Popen([sys.executable, str(script), "write", str(target)])
    while len(list(parts.glob("chunk_*.npz"))) < 10 and process.poll() is None: time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    chunks = sorted(parts.glob("chunk_*.npz"))
    subprocess.run([sys.executable, str(script), "events", str(tmp_path / "uninterrupted.pt")], check=True)
    uninterrupted = SpikeEvents(**torch.load(tmp_path / "uninterrupted.pt"))
    assert len(chunks) >= 10 and uninterrupted.n_spikes > 1_000_000
    for chunk in chunks:   # every chunk file on disk when the process died is whole
        first, stop = (int(x) for x in chunk.stem.split("_")[1:])
        with np.load(chunk, allow_pickle=False) as c:
            assert SpikeEvents(c["neuron"], c["step"], c["count"], 5000, stop - first, first, 1.0) == span(uninterrupted, first, stop), chunk.name
    writer = SonataWriter.resume(target)
    assert 0 < writer.steps_left < 40_000
    assert writer.events() == span(uninterrupted, 0, writer.checkpoint.clock)
    subprocess.run([sys.executable, str(script), "resume", str(target)], check=True)
    events, network = read_sonata(target)
    assert events == uninterrupted
    assert network.num_nodes == 5000 and not parts.exists()
