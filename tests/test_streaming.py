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


KILLED = r'''
import os, shutil, signal, sys
from pathlib import Path
import h5py, numpy as np, torch
import spikeometric_nb.io as io
from spikeometric_nb.datasets import NormalGenerator
from spikeometric_nb.models import BernoulliGLM
from spikeometric_nb.io import NWBWriter, SonataWriter, read_nwb, read_parameters, read_sonata

N_STEPS = 6 * 256   # six chunks of steps; chunk_events=1 writes a chunk file and a checkpoint after each, the last one at the run's end


def make():
    "The network and a fresh model of every run (a new process would make them so)."
    network = NormalGenerator(60, mean=0., std=5., glorot=True, rng=torch.Generator().manual_seed(0)).generate(1)[0]
    model = BernoulliGLM(theta=5., dt=1., coupling_window=5, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100., rel_ref_scale=7,
                         rel_ref_strength=-30., beta=0.5, r=1., rng=torch.Generator().manual_seed(0))
    return network, model


def writer_of(kind, path, base=None):
    "The writer of every run: a chunk file and a checkpoint after every chunk of steps; NWB sorts in blocks of 100 spikes."
    if base is None: base = SonataWriter if kind == "sonata" else NWBWriter
    return base(path, chunk_events=1) if kind == "sonata" else base(path, chunk_events=1, block_spikes=100)


def die(): os.kill(os.getpid(), signal.SIGKILL)


def dying(kind, point):
    "A writer of `kind` whose process is killed (SIGKILL: nothing is cleaned up) at `point` = (where, which call)."
    calls = {}
    def reached(where):
        calls[where] = calls.get(where, 0) + 1
        if (where, calls[where]) == point: die()
    base = SonataWriter if kind == "sonata" else NWBWriter
    class Dying(base):
        def started(self, snapshot): reached("started"); super().started(snapshot)
        def chunk_done(self, steps, snapshot): reached("chunk_done"); super().chunk_done(steps, snapshot)
        def _checkpoint(self, snapshot): reached("checkpoint"); super()._checkpoint(snapshot)
        def result(self): reached("result"); return super().result()
        def write_file(self, path, chunks, meta):
            def read():   # a pass over the chunk files
                reached("pass")
                for chunk in chunks():
                    reached("chunk read")
                    yield chunk
            super().write_file(path, read, meta)
    blocks = io._spike_time_blocks
    def dying_blocks(*args, **kwargs):
        for block in blocks(*args, **kwargs):
            yield block
            reached("block written")
    io._spike_time_blocks = dying_blocks
    rmtree = shutil.rmtree
    def dying_rmtree(*args, **kwargs):
        reached("rmtree")
        rmtree(*args, **kwargs)
    shutil.rmtree = dying_rmtree
    return Dying


KILL_POINTS = {   # where the process dies: (the call, its number)
    "after equilibration, before the first checkpoint": ("started", 1),
    "after the first checkpoint, before the first chunk": ("chunk_done", 1),
    "between a chunk file and its checkpoint": ("checkpoint", 3),
    "after the last checkpoint, at the run's last step": ("result", 1),
    "in the last pass over the chunk files": ("chunk read", 6 + 1 + 4),   # NWB: the second pass (7 chunk files a pass)
    "while the spike-time blocks are written (NWB)": ("block written", 2),
    "as the chunk folder is removed": ("rmtree", 1),
}


def contents(path):
    "Every dataset and attribute of an HDF5 file, but the identifiers and dates that make each NWB file unique."
    unique = {"identifier", "file_create_date", "session_start_time", "timestamps_reference_time"}
    found = {}
    with h5py.File(path, "r") as file:
        def keep(name, obj):
            if name.split("/")[-1] in unique: return
            attributes = {k: str(v) for k, v in obj.attrs.items() if k != "object_id"}
            found[name] = (attributes, np.asarray(obj[()]).tolist() if isinstance(obj, h5py.Dataset) else None)
        file.visititems(keep)
    return found


folder = Path(sys.argv[1])
children = {}
for kind in ("sonata", "nwb"):
    for name, point in KILL_POINTS.items():
        if kind == "sonata" and "NWB" in name: continue
        if kind == "sonata" and point[0] == "chunk read": point = ("chunk read", 4)   # SONATA reads the chunk files once
        where = folder / kind / str(len(children))
        where.mkdir(parents=True)
        pid = os.fork()
        if pid == 0:   # the run that is killed
            try:
                network, model = make()
                model.simulate(network, N_STEPS, verbose=False, record=writer_of(kind, where / "run.out", dying(kind, point)))
            except BaseException as error: print(f"{kind}, {name}: {error!r}", flush=True)
            finally: os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"{kind}, {name}: not killed"
        children[kind, name] = where

for kind in ("sonata", "nwb"):
    network, model = make()
    whole = model.simulate(network, N_STEPS, verbose=False, record=writer_of(kind, folder / kind / "whole.out"))
    expected = contents(whole)
    read = read_sonata if kind == "sonata" else read_nwb
    for (k, name), where in children.items():
        if k != kind: continue
        path = where / "run.out"
        network, model = make()
        try: writer = type(writer_of(kind, path)).resume(path)   # the README's recipe
        except ValueError as error:
            assert "complete" in str(error), f"{kind}, {name}: {error}"   # killed once the file was whole
        else: model.simulate(network, writer.steps_left, verbose=False, state=writer.checkpoint, record=writer)
        assert contents(path) == expected, f"{kind}, {name}: the resumed file differs from the uninterrupted run's"
        assert read(path)[0] == read(whole)[0] and read_parameters(path) == read_parameters(whole), f"{kind}, {name}"
        assert sorted(p.name for p in where.iterdir()) == ["run.out"], f"{kind}, {name}: left {list(where.iterdir())}"
        print(kind, name, "resumed")
'''


def test_resumed_from_any_kill_point(tmp_path):
    """A streamed run (SONATA and NWB) is killed at each moment that matters, from before its first checkpoint to the
    removal of its chunk folder; the README's recipe (`resume`, then `simulate` for `steps_left` steps from the
    checkpoint) then gives the file the uninterrupted run writes, dataset for dataset (spikes, network, model), and
    leaves nothing else beside it. The killed runs are forked from one fresh process (cheap; nothing in it has run
    torch yet): about 15 s of CPU (50 s on a busy 2-core machine)."""
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    run = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout.count("resumed") == 13, run.stdout


def test_result_of_a_resumed_writer(tmp_path):
    """A run stopped after its last checkpoint is finished by `resume(path).result()` alone, with the network and the
    model it was begun with (kept in the chunk folder); a run with steps left is refused by `result()`, which names them."""
    from spikeometric_nb.datasets import NormalGenerator
    from spikeometric_nb.models import BernoulliGLM
    from spikeometric_nb.io import read_parameters
    import pytest
    class Stopped(Exception): pass
    class StopsAtResult(SonataWriter):
        def result(self): raise Stopped()
    network = NormalGenerator(40, mean=0., std=5., glorot=True, rng=torch.Generator().manual_seed(0)).generate(1)[0]
    make = lambda: BernoulliGLM(theta=5., dt=1., coupling_window=5, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100.,
                                rel_ref_scale=7, rel_ref_strength=-30., beta=0.5, r=1., rng=torch.Generator().manual_seed(0))
    whole = make().simulate(network, 512, verbose=False, record=SonataWriter(tmp_path / "whole.h5", population="v1"))
    with pytest.raises(Stopped):
        make().simulate(network, 512, verbose=False, record=StopsAtResult(tmp_path / "run.h5", population="v1", chunk_events=1))
    writer = SonataWriter.resume(tmp_path / "run.h5")
    assert writer.steps_left == 0 and writer.population == "v1"   # the writer's arguments are kept with the run
    path = writer.result()
    (events, back), (expected, truth) = read_sonata(path), read_sonata(whole)
    assert events == expected and torch.equal(back.edge_index, truth.edge_index) and torch.equal(back.W0, truth.W0)
    assert read_parameters(path) == read_parameters(whole) is not None
    with pytest.raises(Stopped):   # stopped with steps left: chunk_events is never reached, the checkpoint is the first
        make().simulate(network, 512, verbose=False, record=StopsAtResult(tmp_path / "left.h5"))
    with pytest.raises(ValueError, match="512 steps of the run in .* are still to simulate"):
        SonataWriter.resume(tmp_path / "left.h5").result()
