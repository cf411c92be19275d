"""Sweeps that lose nothing: the same files on a real local Ray instance as in-process; a sweep killed in the middle
(SIGKILL to its process and its workers) resumes without touching the shards it finished and ends as an uninterrupted
run; a file whose manifest rows were never written counts as finished; a Ray worker killed in the middle of a shard is
replaced and the shard run again. About 2 minutes on a 2-core machine."""
import hashlib, json, os, signal, subprocess, sys, threading, time
from pathlib import Path
import pytest
import ray
from spikeometric_nb.sweep import Sweep, read_manifest, same_results

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
    assert summary == dict(shards=8, ran=8, resumed=0, failed={})
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
    assert sweep.run(executor="inline", progress=False) == dict(shards=8, ran=0, resumed=8, failed={})
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
    assert outcome["summary"] == dict(shards=16, ran=16, resumed=0, failed={})
    reference = make_sweep(tmp_path / "reference", n_steps=20_000, networks=4, shard_size=1, n_neurons=200)
    reference.run(executor="inline", progress=False)
    assert same_results(sweep.out, reference.out)
