"""Write a network as an .npz file for tools/reference_sim.py (and for spikeometric_nb, to compare rates).

Runs with any Python that has numpy. The file holds
    source    int64 [E]  presynaptic neuron j of each synapse
    target    int64 [E]  postsynaptic neuron i
    weight    float32 [E] W[j, i]
    n_neurons int64 scalar
plus a few descriptive scalars (kind, seed, ...), sorted by (source, target).

Two kinds:
  random (NormalGenerator-like, Dale's law): neurons 0..N/2-1 excitatory (weights >= 0), the rest
      inhibitory (<= 0); magnitudes are Normal(mean, std) conditioned on the sign (= |Normal(0, std)|
      when mean = 0), divided by sqrt(N) with --glorot; each ordered pair j != i is connected with
      probability p; no self-connections. Seedable with --seed (numpy's PCG64, not torch's
      generator: the same seed does not give the same matrix as spikeometric_nb's NormalGenerator,
      only the same distribution).
  ring (the seed tutorial's Mexican hat): W[i, j] = exp(-d²/(2σ1²)) - a·exp(-d²/(2σ2²)), d the ring
      distance, zero diagonal, every other pair connected; --copies disjoint rings stacked in node
      order (as a torch_geometric DataLoader batch of identical rings).

Examples
    python tools/make_reference_network.py ring --ring 100 --copies 4 -o /tmp/ring4x100.npz
    python tools/make_reference_network.py random -n 2236 -p 0.5 --mean 0 --std 5 --glorot --seed 0 -o /tmp/rand2236.npz
"""
import argparse
import sys

import numpy as np


def one_sided_normal(rng, mean, std, size, positive):
    "Normal(mean, std) samples conditioned on being >= 0 (positive) or <= 0 (by rejection)."
    out = np.empty(size, dtype=np.float64)
    todo = np.arange(size)
    while todo.size:
        z = rng.normal(mean, std, todo.size)
        ok = z >= 0 if positive else z <= 0
        out[todo[ok]] = z[ok]
        todo = todo[~ok]
    return out


def random_network(n, p, mean=0.0, std=5.0, glorot=False, seed=0):
    "(source, target, weight) of a Dale's-law random network, without building the dense matrix."
    if n % 2: raise SystemExit(f"n must be even (half excitatory, half inhibitory), got {n}")
    if not 0 < p <= 1: raise SystemExit(f"p must be in (0, 1], got {p}")
    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for j in range(n):  # row by row: O(N) memory per row instead of O(N²) at once
        keep = rng.random(n) < p
        keep[j] = False
        t = np.flatnonzero(keep)
        sources.append(np.full(t.size, j, dtype=np.int64)); targets.append(t.astype(np.int64))
    source, target = np.concatenate(sources), np.concatenate(targets)
    exc = source < n // 2
    weight = np.empty(source.size, dtype=np.float64)
    weight[exc] = one_sided_normal(rng, mean, std, int(exc.sum()), True)
    weight[~exc] = one_sided_normal(rng, mean, std, int((~exc).sum()), False)
    if glorot: weight /= np.sqrt(n)
    nz = weight != 0  # a draw of exactly 0 is no synapse (as for the nonzero entries of a matrix)
    return source[nz], target[nz], weight[nz].astype(np.float32)


def ring_network(n, copies=1, a=1.0015, sigma_1=6.98, sigma_2=7.0):
    "(source, target, weight) of `copies` disjoint Mexican-hat rings of n neurons each."
    idx = np.arange(n, dtype=np.float64)
    gap = np.abs(idx[:, None] - idx[None, :])
    d = np.minimum(gap, n - gap)
    W = np.exp(-d**2 / (2 * sigma_1**2)) - a * np.exp(-d**2 / (2 * sigma_2**2))
    np.fill_diagonal(W, 0)
    W = W.astype(np.float32)  # spikeometric_nb computes the ring in float64 and stores float32, as here
    j, i = np.nonzero(W)
    w = W[j, i]
    source = np.concatenate([j + c * n for c in range(copies)]).astype(np.int64)
    target = np.concatenate([i + c * n for c in range(copies)]).astype(np.int64)
    return source, target, np.tile(w, copies).astype(np.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["random", "ring"])
    ap.add_argument("-o", "--out", required=True, help="output .npz file")
    ap.add_argument("-n", "--n-neurons", type=int, default=2236, help="random: number of neurons N (even)")
    ap.add_argument("-p", type=float, default=0.5, help="random: connection probability of each ordered pair")
    ap.add_argument("--edges", type=float, help="random: target number of synapses E instead of p (p = E / (N(N-1)))")
    ap.add_argument("--mean", type=float, default=0.0)
    ap.add_argument("--std", type=float, default=5.0)
    ap.add_argument("--glorot", action="store_true", help="random: divide the weights by sqrt(N)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ring", type=int, default=100, help="ring: neurons per ring")
    ap.add_argument("--copies", type=int, default=1, help="ring: number of disjoint rings")
    ap.add_argument("--a", type=float, default=1.0015)
    ap.add_argument("--sigma-1", type=float, default=6.98)
    ap.add_argument("--sigma-2", type=float, default=7.0)
    args = ap.parse_args(argv)
    if args.kind == "random":
        n = args.n_neurons
        p = args.edges / (n * (n - 1)) if args.edges else args.p
        source, target, weight = random_network(n, p, args.mean, args.std, args.glorot, args.seed)
        meta = dict(kind="random", p=p, mean=args.mean, std=args.std, glorot=args.glorot, seed=args.seed)
    else:
        n = args.ring * args.copies
        source, target, weight = ring_network(args.ring, args.copies, args.a, args.sigma_1, args.sigma_2)
        meta = dict(kind="ring", ring=args.ring, copies=args.copies, a=args.a, sigma_1=args.sigma_1, sigma_2=args.sigma_2)
    np.savez(args.out, source=source, target=target, weight=weight, n_neurons=np.int64(n),
             **{k: np.asarray(v) for k, v in meta.items()})
    print(f"{args.out}: {meta['kind']} network, {n} neurons, {source.size} synapses, "
          f"{(weight > 0).sum()} excitatory / {(weight < 0).sum()} inhibitory", file=sys.stderr)


if __name__ == "__main__":
    main()
