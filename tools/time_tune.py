"""Speed of tune (issue 19, item 4), measured in one run.

python tools/time_tune.py BASE_TREE NEW_TREE [--reps 3] [--out nbs/benchmarks/results.json]
1. The seed tutorial's tuning (4 batches of 5 rings, tune(firing_rate=62.5, theta, n_steps=10, lr=1e-6, n_epochs=100)),
   each measurement a fresh interpreter with PYTHONPATH=TREE, the trees interleaved: best of `reps`, ratio base / new.
2. NEW_TREE only: a BernoulliGLM on a 10,000-neuron NormalGenerator network with ≈10⁶ synapses, tuning θ to one rate
   (10 Hz) and per neuron (log-normal targets, median 10 Hz): best of `reps`, ratio per neuron / scalar.
"""
import argparse, json, os, subprocess, sys

SEED = r'''
import json, time, warnings, torch, spikeometric_nb
from torch_geometric.loader import DataLoader
from spikeometric_nb.datasets import MexicanHatGenerator
from spikeometric_nb.models import RectifiedLNP
warnings.simplefilter("ignore")
dataset = MexicanHatGenerator(100, a=1.0015, sigma_1=6.98, sigma_2=7.).generate(24)
torch.manual_seed(0)
model = RectifiedLNP(lambda_0=100., theta=1e-4, T=20, tau=10., dt=0.1, r=0.0025, b=0.001)
start = time.perf_counter()
for data in DataLoader(dataset[:20], batch_size=5):
    model.tune(data, firing_rate=62.5, tunable_parameters=["theta"], n_steps=10, lr=1e-6, n_epochs=100, verbose=False)
print(json.dumps(dict(seconds=time.perf_counter() - start, package=spikeometric_nb.__file__)))
'''

LARGE = r'''
import json, sys, time, warnings, torch, spikeometric_nb
from spikeometric_nb.datasets import NormalGenerator
from spikeometric_nb.models import BernoulliGLM
warnings.simplefilter("ignore")
n = 10_000
data = NormalGenerator(n, mean=0., std=5., glorot=True, sparsity=0.99, rng=torch.Generator().manual_seed(0)).generate(1)[0]
model = BernoulliGLM(theta=5., dt=1., coupling_window=20, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100.,
                     rel_ref_scale=7, rel_ref_strength=-30., beta=0.5, r=1., rng=torch.Generator().manual_seed(0))
target = 10. if sys.argv[1] == "scalar" else (10 * torch.exp(0.5 * torch.randn(n, generator=torch.Generator().manual_seed(1)))).clamp(1, 40)
start = time.perf_counter()
model.tune(data, firing_rate=target, tunable_parameters=["theta"], lr=0.05, n_steps=100, n_epochs=50, verbose=False)
print(json.dumps(dict(seconds=time.perf_counter() - start, synapses=int(data.edge_index.shape[1]),
                 package=spikeometric_nb.__file__)))
'''

def measure(tree, code, *args):
    env = dict(os.environ, PYTHONPATH=tree)
    # run in the tree: `python -c` puts the working directory first on sys.path
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=tree, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(os.path.abspath(tree)), (tree, result["package"])   # the tree's own package
    return result

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base"); parser.add_argument("new"); parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", help="a results JSON to write the section 'tuning' into (the benchmarks page shows it)")
    args = parser.parse_args()
    seconds = {args.base: [], args.new: []}
    for _ in range(args.reps):
        for tree in (args.base, args.new): seconds[tree].append(measure(tree, SEED)["seconds"])
    base, new = min(seconds[args.base]), min(seconds[args.new])
    print(f"seed tutorial's tuning: base {base:.3f} s, new {new:.3f} s, base/new {base / new:.2f}x "
          f"(all: {[round(s, 3) for s in seconds[args.base]]} vs {[round(s, 3) for s in seconds[args.new]]})")
    large = {"scalar": [], "per neuron": []}
    for _ in range(args.reps):
        for kind in large: large[kind].append(measure(args.new, LARGE, "scalar" if kind == "scalar" else "neurons"))
    scalar, per_neuron = (min(r["seconds"] for r in large[k]) for k in large)
    print(f"10,000 neurons, {large['scalar'][0]['synapses']:,} synapses, 50 epochs of 100 steps: scalar {scalar:.2f} s, "
          f"per neuron {per_neuron:.2f} s, per neuron / scalar {per_neuron / scalar:.2f}")
    if args.out:
        from spikeometric_nb.benchmark import machine_info, write_section
        commit = lambda tree: subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"], capture_output=True,
                                             text=True).stdout.strip()
        write_section(args.out, "tuning", dict(
            seed=dict(base_s=base, new_s=new, ratio=base / new, base_all_s=seconds[args.base], new_all_s=seconds[args.new],
                      base_commit=commit(args.base), new_commit=commit(args.new)),
            large=dict(n_neurons=10_000, synapses=large["scalar"][0]["synapses"], scalar_s=scalar, per_neuron_s=per_neuron,
                       ratio=per_neuron / scalar)),
            dict(machine=machine_info(), reps=args.reps, load_average=os.getloadavg()))
