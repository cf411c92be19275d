"""Compiled loop, scalar parameters: ms per step of two package trees in one run, interleaved (issue 19, item 1).

python tools/time_compiled_loop.py BASE_TREE NEW_TREE [--reps 5]
Each measurement is a fresh interpreter with PYTHONPATH=TREE: the seed's 4 rings of 100 RectifiedLNP neurons
(10,000 steps) and the 2,236-neuron BernoulliGLM network of the benchmark (2.5 M synapses, 2,000 steps), both
event-driven in the compiled loop. Prints the best of `reps` for each tree and their ratio (new / base).
"""
import argparse, json, os, subprocess, sys

CASE = r'''
import json, sys, time, torch, spikeometric_nb
from spikeometric_nb.benchmark import MODEL_PARAMS, SEED_PARAMS, normal_networks, ring_networks
from spikeometric_nb.models import BernoulliGLM, RectifiedLNP
from torch_geometric.data import Batch
case = sys.argv[1]
if case == "ring": model, data, steps = RectifiedLNP(**SEED_PARAMS), Batch.from_data_list(ring_networks(4)), 10_000
else: model, data, steps = BernoulliGLM(**MODEL_PARAMS["BernoulliGLM"]), normal_networks(2236, 1, seed=0)[0], 2000
model.rng.manual_seed(0)
model.simulate(data, 200, verbose=False, propagation="events")   # builds (or loads) the compiled loop
start = time.perf_counter()
model.simulate(data, steps, verbose=False, propagation="events", equilibration_steps=0)
print(json.dumps(dict(ms_per_step=(time.perf_counter() - start) / steps * 1e3, package=spikeometric_nb.__file__)))
'''

def measure(tree, case):
    env = dict(os.environ, PYTHONPATH=tree)
    # run in the tree: `python -c` puts the working directory first on sys.path
    out = subprocess.run([sys.executable, "-c", CASE, case], env=env, cwd=tree, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(os.path.abspath(tree)), (tree, result["package"])   # the tree's own package
    return result["ms_per_step"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base"); parser.add_argument("new"); parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    for case in ("ring", "bernoulli"):
        times = {args.base: [], args.new: []}
        for _ in range(args.reps):
            for tree in (args.base, args.new): times[tree].append(measure(tree, case))
        base, new = min(times[args.base]), min(times[args.new])
        print(f"{case}: base {base:.4f} ms/step, new {new:.4f} ms/step, new/base {new / base:.3f} "
              f"(all: {[round(t, 4) for t in times[args.base]]} vs {[round(t, 4) for t in times[args.new]]})")
