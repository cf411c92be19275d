"""Sweeps that lose nothing: the same files on a real local Ray instance as in-process; a sweep killed in the middle
(SIGKILL to its process and its workers) resumes without touching the shards it finished and ends as an uninterrupted
run; a file whose manifest rows were never written counts as finished; a Ray worker killed in the middle of a shard is
replaced and the shard run again; a driver killed alone takes its workers with it; an inline failure in a fresh process
is reported as itself; one folder named two ways is one sweep, and a configuration's relative `out` is read from its
file's folder; `status` after a kill counts each finished network once. About 3 minutes on a 2-core machine."""
import hashlib, json, os, signal, subprocess, sys, threading, time
from pathlib import Path
import pytest
import ray
from spikeometric_nb.sweep import Sweep, read_manifest, same_results, sweep_status

GLM = dict(theta=5., dt=1., coupling_window=20, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100., rel_ref_scale=7,
           rel_ref_strength=-30., beta=0.5, r=1.)


def make_sweep(out, n_steps=2000, networks=4, shard_size=2, n_neurons=50):
    "Two weight scales × two coupling strengths of BernoulliGLM networks."
    return Sweep(generator=("NormalGenerator", dict(n_neurons=n_neurons, mean=0., std=5., glorot=True)), model=("BernoulliGLM", GLM),
                 grid={"generator.std": [2., 5.], "model.r": [0.5, 1.]}, networks_per_point=networks, seed=7, n_steps=n_steps,
                 out=out, shard_size=shard_size)


@pytest.fixture
def local_ray():
    "A real local Ray instance with 2 CPUs and no dashboard, shut down afterwards."
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def fingerprints(folder) -> dict:
    "Every shard file's modification time and content hash."
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in sorted(Path(folder).glob("shard_*.h5"))}


def test_ray_gives_the_same_files(tmp_path, local_ray):
    reference = make_sweep(tmp_path / "inline")
    assert reference.run(executor="inline", progress=False)["failed"] == {}
    on_ray = make_sweep(tmp_path / "ray")
    summary = on_ray.run(executor="ray", progress=False)   # the Ray initialised by the fixture, used as it is
    assert summary == dict(shards=8, ran=8, resumed=0, failed={}, unconverged={})
    assert ray.is_initialized()
    assert same_results(on_ray.out, reference.out)   # file by file: spikes, networks, manifest rows
    hosts = {row["pid"] for row in read_manifest(on_ray.out)["rows"]}
    assert os.getpid() not in hosts   # the shards ran in Ray's workers


def test_killed_sweep_resumes(tmp_path):
    long = make_sweep(tmp_path / "killed", n_steps=20_000, networks=6, shard_size=1, n_neurons=200)   # 24 shards of about a second
    config = long.to_json(tmp_path / "sweep.json")
    command = [sys.executable, "-m", "spikeometric_nb.sweep", "run", str(config), "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while len(list(long.out.glob("shard_*.h5"))) < 4 and process.poll() is None: time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)   # the sweep and its workers, nothing cleaned up
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    finished = fingerprints(long.out)
    assert 4 <= len(finished) < 24
    status = sweep_status(long.out)   # shards of one network: as many networks as shards done, files counted once
    assert status["done"] == status["networks"] >= len(finished), status
    resumed = subprocess.run(command, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout)
    assert summary["resumed"] >= len(finished) and summary["failed"] == {}
    after = fingerprints(long.out)
    assert all(after[name] == finished[name] for name in finished), "a finished shard was written again"
    reference = make_sweep(tmp_path / "uninterrupted", n_steps=20_000, networks=6, shard_size=1, n_neurons=200)
    reference.run(executor="inline", progress=False)
    assert same_results(long.out, reference.out)


def test_a_file_without_manifest_rows_counts_as_finished(tmp_path):
    sweep = make_sweep(tmp_path / "between")
    sweep.run(executor="inline", progress=False)
    manifest_path = sweep.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    complete = manifest["rows"]
    manifest["rows"] = [row for row in complete if row["shard"] != 3]   # as if killed after shard 3's file, before its rows
    manifest_path.write_text(json.dumps(manifest))
    before = fingerprints(sweep.out)
    assert sweep.run(executor="inline", progress=False) == dict(shards=8, ran=0, resumed=8, failed={}, unconverged={})
    assert fingerprints(sweep.out) == before
    timeless = lambda rows: [{k: v for k, v in row.items() if k not in ("write_s", "end_unix_s")} for row in rows]   # not in its own file
    assert timeless(read_manifest(sweep.out)["rows"]) == timeless(complete)


def _ray_workers_running_shards() -> list:
    "PIDs of processes whose title says they are running a shard as a Ray task."
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit(): continue
        try: title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError: continue
        if title.startswith("ray::run_shard"): pids.append(int(entry.name))
    return pids


def test_ray_worker_killed_mid_shard(tmp_path, local_ray):
    sweep = make_sweep(tmp_path / "ray_killed", n_steps=20_000, networks=4, shard_size=1, n_neurons=200)
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(summary=sweep.run(executor="ray", progress=False)))
    runner.start()
    victims = []
    deadline = time.time() + 120
    while not victims and time.time() < deadline and runner.is_alive():
        victims = _ray_workers_running_shards()
        time.sleep(0.05)
    assert victims, "no Ray worker was seen running a shard"
    os.kill(victims[0], signal.SIGKILL)
    runner.join(timeout=300)
    assert outcome["summary"] == dict(shards=16, ran=16, resumed=0, failed={}, unconverged={})
    reference = make_sweep(tmp_path / "reference", n_steps=20_000, networks=4, shard_size=1, n_neurons=200)
    reference.run(executor="inline", progress=False)
    assert same_results(sweep.out, reference.out)


def _session_members(session:int) -> list:
    "PIDs of the live (not zombie) processes of a session: a driver started with start_new_session and its workers."
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit(): continue
        try: stat = (entry / "stat").read_text()
        except OSError: continue
        fields = stat[stat.rfind(")") + 2:].split()   # state, ppid, pgrp, session, ...
        if int(fields[3]) == session and fields[0] != "Z": pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_with_their_driver(tmp_path):
    "SIGKILL to the driver alone (not its process group): its forked workers end within a few seconds."
    long = make_sweep(tmp_path / "orphans", n_steps=20_000, networks=6, shard_size=1, n_neurons=200)   # 24 shards of ~1 s
    command = [sys.executable, "-m", "spikeometric_nb.sweep", "run", str(long.to_json(tmp_path / "sweep.json")),
               "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while len(list(long.out.glob("shard_*.h5"))) < 2 and process.poll() is None: time.sleep(0.05)
        workers = [pid for pid in _session_members(process.pid) if pid != process.pid]
        assert workers, "no worker process was seen"
        os.kill(process.pid, signal.SIGKILL)   # the driver only: nothing tells the workers
        process.wait()
        assert process.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
        deadline = time.time() + 5
        while _session_members(process.pid) and time.time() < deadline: time.sleep(0.1)
        assert _session_members(process.pid) == [], "workers outlived their driver by 5 s"
        written = sorted(p.name for p in long.out.iterdir())
        time.sleep(1.5)   # longer than a shard: a worker still running would have written another file
        assert sorted(p.name for p in long.out.iterdir()) == written
        assert len(list(long.out.glob("shard_*.h5"))) < 24
    finally:
        for pid in _session_members(process.pid): os.kill(pid, signal.SIGKILL)


def test_inline_failure_in_a_fresh_process(tmp_path):
    "A failing shard run inline in a process that never touched concurrent.futures.process is reported as itself."
    script = f"""
import json, warnings
from spikeometric_nb.sweep import Sweep
warnings.simplefilter("ignore")
sweep = Sweep(("NormalGenerator", dict(n_neurons=50, mean=0., std=5., glorot=True)),
              ("RectifiedLNP", dict(lambda_0=0.1, theta=0., T=20., tau=10., dt=1., r=1., b=0.1)),
              grid={{"model.r": [0.1, 500.]}}, networks_per_point=1, seed=0, n_steps=500, out={str(tmp_path / "fresh")!r})
print(json.dumps(sweep.run(executor="inline", progress=False)))
"""
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-3000:]
    summary = json.loads(ran.stdout.splitlines()[-1])
    assert (summary["shards"], summary["ran"], list(summary["failed"])) == (2, 1, ["1"])
    assert "running away" in summary["failed"]["1"], summary["failed"]


def test_relative_and_absolute_out_are_one_sweep(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = make_sweep("data", n_steps=200)
    assert relative.run(executor="inline", progress=False)["ran"] == 8
    absolute = make_sweep(tmp_path / "data", n_steps=200)   # the same folder, named another way
    summary = absolute.run(executor="inline", progress=False)
    assert (summary["ran"], summary["resumed"], summary["failed"]) == (0, 8, {})


def test_config_out_is_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir(); (tmp_path / "elsewhere").mkdir()
    config = tmp_path / "configs" / "sweep.json"
    config.write_text(json.dumps({**make_sweep(tmp_path / "x").to_dict(), "out": "data"}))
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert Sweep.from_json(config).out.resolve() == (tmp_path / "configs" / "data").resolve()
    assert Sweep.from_json(config) == Sweep.from_json(Path("..") / "configs" / "sweep.json")


def test_status_after_a_kill_counts_each_network_once(tmp_path):
    "Killed with shard 7's file still .part and the rows of shards 3-6 not in the manifest yet: 7 shards, 7 networks."
    sweep = make_sweep(tmp_path / "killed", n_steps=200, networks=2, shard_size=1)   # 8 shards of one network
    sweep.run(executor="inline", progress=False)
    manifest_path = sweep.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["rows"] = [row for row in manifest["rows"] if row["shard"] < 3]
    manifest_path.write_text(json.dumps(manifest))
    os.rename(sweep.out / "shard_000007.h5", sweep.out / "shard_000007.h5.part")
    status = sweep_status(sweep.out)
    assert (status["shards"], status["done"], status["networks"]) == (8, 7, 7), status
