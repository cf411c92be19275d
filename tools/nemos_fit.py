"""Fit nemos' PopulationGLM to spike counts with a spikeometric_nb model's coupling filter; save its weights.

Runs in nemos' own environment (`make bench-envs`, or `tools/make_reference_envs.sh nemos`, builds .venv-nemos
with nemos 0.2.8 and the jax it pins), so that nemos never constrains spikeometric_nb's dependencies:

    .venv-nemos/bin/python tools/nemos_fit.py IN.npz OUT.npz

Input IN.npz:
  counts    [N, T] spike counts, x_i(t) in row i, column t
  kernel    [K] the coupling filter at lags 1 … K: kernel[k-1] weighs x_j(t-k) (the model's `filter_bank()` row,
            flipped; for the exponential models c(k-1) = exp(-(k-1)·dt/τ))
  penalty   "none" (nemos' UnRegularized) or "l2" (Ridge: nemos adds 0.5·strength·Σ w² to its loss, the sum over
            neurons of each neuron's mean negative log-likelihood per step)
  strength  the Ridge strength (ignored without a penalty)
  maxiter, tol   nemos' LBFGS options (tol: optimistix's absolute Cauchy tolerance, nemos' default 1e-4)
  repeats   timed fits after the warm-up (optional, default 1); the fastest counts

The design is the "equivalent coupling basis": one feature per presynaptic neuron j, the model's own filter
applied to its spikes, h_j(t) = Σ_{k=1..K} kernel[k-1]·x_j(t-k), over the steps t = K … T-1 that have a full
history. Every neuron i is fitted on the h_j of the other neurons (feature_mask 0 on the diagonal: the pairs
j ≠ i, as spikeometric_nb's `infer`), with Poisson observations and nemos' default exponential link:
μ_i(t) = exp(intercept_i + Σ_{j≠i} coef[j, i]·h_j(t)). For a PoissonGLM, coef[j, i] = β·r·W0[j, i] and
intercept_i = log(dt/α) + β·b_i.

Timing: one fit first (jit compilation and a whole fit: the warm-up), then `repeats` timed fits, each by a fresh
PopulationGLM on the same data (jax reuses the compiled code); on a shared machine timings only err upwards, so the
fastest is fit_s. All run in float32, nemos' (jax's) default.

Output OUT.npz: weights [N, N] (weights[j, i] from j onto i, 0 on the diagonal, float64), intercepts [N]; and
one JSON line printed: design_s (building h), fit_s (the fastest timed fit), fit_all_s (each), fit_cpu_s and
fit_cpu_all_s (the CPU time of this process's threads in them), warmup_s (the first fit, compilation included),
import_s, n_iter, converged, loss, peak_rss_mb (VmHWM of this process), versions, n_neurons, n_steps.
"""
import json, sys, time

def peak_rss_mb() -> float:
    "Peak resident memory (MB) of this process: /proc's VmHWM."
    with open("/proc/self/status") as f: return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024

def design(counts, kernel):
    "h [T-K, N] (float32): h[t-K, j] = Σ_k kernel[k-1]·x_j(t-k) for t = K … T-1, and the counts y [T-K, N]."
    import numpy as np
    N, T = counts.shape
    K = len(kernel)
    x = np.ascontiguousarray(counts.T, dtype=np.float32)        # [T, N]
    h = np.zeros((T - K, N), dtype=np.float32)
    for k in range(1, K + 1): h += np.float32(kernel[k - 1]) * x[K - k:T - k]
    return h, x[K:]

def main(argv=None):
    t0 = time.perf_counter()
    import numpy as np
    import jax, nemos as nmo
    import_s = time.perf_counter() - t0
    src, dst = argv if argv is not None else sys.argv[1:]
    f = np.load(src)
    counts, kernel = f["counts"], f["kernel"].astype(np.float64)
    penalty, strength = str(f["penalty"]), float(f["strength"])
    maxiter, tol = int(f["maxiter"]), float(f["tol"])
    repeats = int(f["repeats"]) if "repeats" in f else 1
    if penalty not in ("none", "l2"): raise ValueError(f'penalty must be "none" or "l2", got {penalty!r}')
    N, T = counts.shape
    if T <= len(kernel): raise ValueError(f"counts have {T} steps, the kernel needs more than {len(kernel)}")
    t = time.perf_counter()
    X, y = design(counts, kernel)
    design_s = time.perf_counter() - t
    mask = (1 - np.eye(N)).astype(np.float32)                   # [features j, neurons i]: no self-coupling

    def fit():
        glm = nmo.glm.PopulationGLM(observation_model="Poisson", feature_mask=mask, solver_name="LBFGS",
                                    regularizer="UnRegularized" if penalty == "none" else "Ridge",
                                    regularizer_strength=None if penalty == "none" else strength,
                                    solver_kwargs=dict(maxiter=maxiter, tol=tol))
        t, cpu = time.perf_counter(), time.process_time()
        glm.fit(X, y)
        jax.block_until_ready(glm.coef_)
        return glm, time.perf_counter() - t, time.process_time() - cpu

    _, warmup_s, _ = fit()
    fits = [fit() for _ in range(repeats)]
    glm, fit_s, fit_cpu_s = min(fits, key=lambda fit: fit[1])
    info = glm.optim_info_
    W = np.asarray(glm.coef_, dtype=np.float64) * mask
    np.savez(dst, weights=W, intercepts=np.asarray(glm.intercept_, dtype=np.float64))
    print(json.dumps(dict(design_s=design_s, fit_s=fit_s, fit_all_s=[s for _, s, _ in fits], fit_cpu_s=fit_cpu_s,
                          fit_cpu_all_s=[c for _, _, c in fits], warmup_s=warmup_s,
                          import_s=import_s,
                          n_iter=int(info.num_steps), converged=bool(info.converged), loss=float(info.function_val),
                          peak_rss_mb=peak_rss_mb(), nemos=nmo.__version__, jax=jax.__version__, n_neurons=N,
                          n_steps=T, fitted_steps=T - len(kernel), penalty=penalty, strength=strength,
                          maxiter=maxiter, tol=tol, solver="LBFGS", dtype=str(X.dtype))))

if __name__ == "__main__": main()
