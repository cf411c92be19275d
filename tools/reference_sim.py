"""Simulate one of spikeometric_nb's models with a reference simulator and print ONE JSON line.

Runs under whichever environment has the engine (tools/make_reference_envs.sh builds them):

    .venv-brian2/bin/python tools/reference_sim.py --engine brian2-cython ...
    .venv-brian2/bin/python tools/reference_sim.py --engine brian2-cpp ...
    .venv-nest/bin/python   tools/reference_sim.py --engine nest --threads 2 ...
    .venv/bin/python        tools/reference_sim.py --engine spikeometric_nb ...   (ours, same network & output)

Example (the seed's 4 x 100 Mexican-hat rings, RectifiedLNP):
    python3 tools/make_reference_network.py ring --ring 100 --copies 4 -o /tmp/ring.npz
    .venv-brian2/bin/python tools/reference_sim.py --engine brian2-cpp --network /tmp/ring.npz \
        --model rectified --steps 10000

Input: --network FILE.npz (arrays source = presynaptic j, target = postsynaptic i, weight = W[j, i],
scalar n_neurons; see tools/make_reference_network.py), --model bernoulli|rectified, --params JSON
overriding the defaults below (spikeometric_nb's argument names), --steps N measured steps after
--warmup steps, --threads T (NEST local_num_threads, torch threads for spikeometric_nb; Brian2
ignores it), --seed, --kernel exact|exp.

Output keys: engine, model, kernel, n_neurons, n_synapses, n_steps, warmup_steps, dt_ms,
ms_per_step (the measured steps only: Brian2's own timing of the network-run loop, NEST's
Run() wall time, ours the extra simulate() wall time of the measured call over a 10-step call
with the same warm-up, per extra step, recording every spike as events (--record dense: 1.0.3's
[N, steps] array; Brian2 and NEST keep spike counts here); setup_s reports our once-per-call preparation of the
synapses and simulate_s the whole measured call), compile_s (everything
before the measured run: building the network, brian2-cpp's code generation + compilation +
binary start + loading arrays, Cython compilation when not cached, NEST's Prepare, and the warm-up
steps), build_s (just creating neurons and synapses in Python), rate_hz (spikes / (N · steps · dt)
over the measured steps), n_spikes, omp_wait_policy, peak_rss_mb (getrusage maxrss of this process; for brian2-cpp
the simulation runs in a child binary: its own maxrss is reported as peak_rss_mb and the Python
driver's as driver_rss_mb), threads, version, params.

How each engine implements the equations (x_j(t) = spikes of j at step t, lag k = 0 most recent)
--------------------------------------------------------------------------------------------------
rectified (RectifiedLNP): g_i(t+1) = r Σ_j W_ji Σ_{k<K} e^{-k dt/τ} x_j(t-k) + b, K = round(T/dt),
  μ = λ0·dt·[g − θ]₊ expected spikes per step.
  Brian2: per-neuron variable g decaying by e^{-dt/τ} per step (exact integration), on_pre g += r·w
    (stored pre-multiplied by e^{dt/τ} because Brian2 decays g at the start of the step, before
    the threshold, so that lag 0 weighs exactly r·w); threshold 'rand() < λ0·dt·(g + b − θ)':
    a Bernoulli(μ) spike instead of Poisson(μ) counts: the same mean μ per step, but no double
    spikes (μ ≈ 0.009 at 90 Hz: P(≥2) ≈ μ²/2 ≈ 4e-5) and a variance μ(1−μ) instead of μ.
  NEST: pp_psc_delta, V_m = r Σ w e^{-k dt/τ} x exactly (tau_m = τ, delta synapses of weight r·w mV,
    delay = dt, with_reset = False, V_m starts at 0, I_e = 0), escape rate c_1·V + c_2·exp(c_3·V)
    with c_1 = 1000·λ0 Hz/mV, c_2 = 1000·λ0·(b − θ) Hz, c_3 = 0 so rate = 1000·λ0·(V + b − θ) Hz,
    NEST only emits when rate > 0 (the rectification), dead_time = 0 so NEST draws
    Poisson(rate·dt/1000) = Poisson(μ) spikes (with multiplicity) — exact. b enters through c_2,
    not I_e, because I_e would be low-pass filtered by tau_m (exact only in steady state).
  --kernel exact: the window truncation at K steps is reproduced by a second, delayed pathway:
    every synapse also delivers −r·w·e^{-K dt/τ} K steps later (Brian2: pathway 'late' with delay
    K·dt; NEST: a second connection with delay (K+1)·dt), which cancels the exponential tail from
    lag K on; this doubles the synaptic events. --kernel exp drops the truncation (infinite
    exponential tail: about 1/(1 − e^{-K dt/τ}) = 1.16x more coupling for T = 20, τ = 10).
bernoulli (BernoulliGLM): g_i(t+1) = r Σ_j W_ji Σ_{k<cw} e^{-α k dt} x_j(t-k) + Σ_k ref(k) x_i(t-k),
  ref(k) = abs_ref_strength for k < A, rel_ref_strength·e^{-β (k−A) dt} for A ≤ k < A+R;
  p = σ(g − θ)·dt, one spike with probability p.
  Coupling: as above (τ = 1/α; exact: delayed cancelling pathway at cw steps; exp: untruncated).
  Brian2, --kernel exp: refractory = (A+1)·dt (Brian2 counts the spike step: a spike at step s
    blocks s+1 … s+A, as abs_ref_strength = −100 does in ours), a relative-refractory variable gr
    decaying by e^{-β dt} per step, gr += rel_ref_strength·e^{β (A+1) dt} on reset (so the first
    step after the dead time sees rel_ref_strength), no truncation after R steps; threshold
    'rand() < dt·σ(gs + gr − θ)'.
  Brian2, --kernel exact: the self-filter is a per-neuron shift register of the neuron's last
    A+R spikes (h0 … h_{A+R-1}, shifted after the threshold, h0 = 1 on reset) and
    g_ref = Σ ref(k)·h_k exactly as ours (abs_ref_strength included, no Brian2 `refractory`).
  NEST (both kernels): pp_psc_delta with dead_time = A·dt (blocks exactly A steps; dead_time > 0
    also makes NEST draw one Bernoulli spike with p = 1 − exp(−rate·dt/1000)), spike-frequency
    adaptation as the relative refractoriness: tau_sfa = 1/β, q_sfa = −rel_ref_strength·e^{β (A+1) dt}
    (NEST decays E_sfa before using it, so lag A sees −rel_ref_strength; the tail after A+R steps
    is NOT truncated), escape rate c_2·exp(c_3·V_eff) with c_3 = 1/mV, c_2 = 1000·e^{−θ} Hz, c_1 = 0:
    p = 1 − exp(−dt·e^{g−θ}) instead of dt·σ(g−θ): equal to first order, relative error ≈ e^{g−θ}/2
    (0.3 % at g − θ = −5, 2.5 % at −3, 16 % at −1). A = 0 is not representable (dead_time = 0
    switches NEST to Poisson counts); A ≥ 1 is required.
spikeometric_nb --kernel exp: emulated by stretching the windows until the dropped tail is < 1e-6
  (T = 14τ; coupling_window = ⌈14/(α dt)⌉, rel_ref_scale = ⌈14/(β dt)⌉), to compare with the
  engines' untruncated form.
All engines start from a silent network (ours: a random 0/1 spike state); --warmup steps are run
and discarded before the measured steps.
"""
import argparse, json, math, os, resource, shutil, subprocess, sys, tempfile, time

import numpy as np

DEFAULTS = {
    # BernoulliGLM, the paper's / introduction tutorial's parameters
    "bernoulli": dict(theta=5.0, dt=1.0, coupling_window=5, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100.0,
                      rel_ref_scale=7, rel_ref_strength=-30.0, beta=0.5, r=1.0),
    # RectifiedLNP, the seed tutorial's parameters (T in ms: K = 200 steps)
    "rectified": dict(lambda_0=100.0, theta=1e-4, T=20.0, tau=10.0, dt=0.1, r=0.0025, b=0.001),
}
ENGINES = ["brian2-cython", "brian2-cpp", "nest", "spikeometric_nb"]
_RSS_WRAPPER = "--_run-and-report-rss"


def maxrss_mb(who=resource.RUSAGE_SELF):
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: kilobytes


def load_network(path):
    f = np.load(path)
    n = int(f["n_neurons"])
    src, tgt = f["source"].astype(np.int64), f["target"].astype(np.int64)
    w = f["weight"].astype(np.float32).astype(np.float64)
    if not (src.shape == tgt.shape == w.shape): raise SystemExit(f"{path}: source, target, weight differ in length")
    if src.size and (min(src.min(), tgt.min()) < 0 or max(src.max(), tgt.max()) >= n):
        raise SystemExit(f"{path}: a neuron index is outside 0..{n - 1}")
    return n, src, tgt, w


def derived(model, P):
    "Per-step constants of the model, shared by the engines."
    dt = float(P["dt"])
    if model == "rectified":
        K = int(round(P["T"] / dt))
        return dict(dt=dt, K=K, decay=math.exp(-dt / P["tau"]), cut=math.exp(-K * dt / P["tau"]))
    alpha, beta = abs(P["alpha"]), abs(P["beta"])
    cw, A, R = int(P["coupling_window"]), int(P["abs_ref_scale"]), int(P["rel_ref_scale"])
    ref = [P["abs_ref_strength"] if k < A else P["rel_ref_strength"] * math.exp(-beta * (k - A) * dt) for k in range(A + R)]
    return dict(dt=dt, K=cw, decay=math.exp(-alpha * dt), cut=math.exp(-alpha * cw * dt), A=A, R=R, alpha=alpha,
                beta=beta, ref=ref)


# ----------------------------------------------------------------------------------------------- Brian2
def run_brian2(args, n, src, tgt, w, P, out):
    import brian2 as b2
    from brian2 import ms, NeuronGroup, Synapses, Network, defaultclock, prefs
    b2.BrianLogger.log_level_error()
    cpp = args.engine == "brian2-cpp"
    build_dir = None
    if cpp:
        build_dir = args.build_dir or tempfile.mkdtemp(prefix="brian2_cpp_")
        b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
        # run the binary through this script, which reports the binary's own peak RSS
        prefs.devices.cpp_standalone.run_cmd_unix = [sys.executable, os.path.abspath(__file__), _RSS_WRAPPER, "./main"]
    else:
        prefs.codegen.target = "cython"
        if args.cython_cache: prefs.codegen.runtime.cython.cache_dir = args.cython_cache
    D = derived(args.model, P)
    dt, K = D["dt"], D["K"]
    t0 = time.perf_counter()
    b2.seed(args.seed)
    defaultclock.dt = dt * ms
    ns = dict(decay_rate=-math.log(D["decay"]) / (dt * ms))
    if args.model == "rectified":
        ns.update(lam_dt=P["lambda_0"] * dt, b_theta=P["b"] - P["theta"])
        G = NeuronGroup(n, "dg/dt = -decay_rate*g : 1\ncnt : 1", threshold="rand() < lam_dt*(g + b_theta)",
                        reset="cnt += 1", method="exact", namespace=ns)  # rand() < μ never fires for μ <= 0
        gvar, objs = "g", [G]
    else:
        A, R = D["A"], D["R"]
        ns.update(pdt=dt, theta=P["theta"], beta_rate=D["beta"] / ms, qref=P["rel_ref_strength"] * math.exp(D["beta"] * (A + 1) * dt))
        if args.kernel == "exp":
            G = NeuronGroup(n, "dgs/dt = -decay_rate*gs : 1\ndgr/dt = -beta_rate*gr : 1\ncnt : 1",
                            threshold="rand() < pdt/(1 + exp(theta - gs - gr))", reset="gr += qref\ncnt += 1",
                            refractory=(A + 1) * dt * ms if A > 0 else False, method="exact", namespace=ns)
            objs = [G]
        else:
            L = A + R
            regs = [f"h{k}" for k in range(L)]
            gref = " + ".join(f"({c!r})*{h}" for c, h in zip(D["ref"], regs)) or "0"
            eqs = "dgs/dt = -decay_rate*gs : 1\ncnt : 1\n" + "".join(f"{h} : 1\n" for h in regs) + f"gref = {gref} : 1\n"
            G = NeuronGroup(n, eqs, threshold="rand() < pdt/(1 + exp(theta - gs - gref))",
                            reset=("h0 = 1\n" if L else "") + "cnt += 1", method="exact", namespace=ns)
            objs = [G]
            if L:
                shift = "\n".join(f"h{k} = h{k - 1}" for k in range(L - 1, 0, -1)) + "\nh0 = 0"
                objs.append(G.run_regularly(shift, when="after_thresholds"))
        gvar = "gs"
    on_pre = {"pre": f"{gvar}_post += w"}
    delay = None
    if args.kernel == "exact":
        on_pre["late"] = f"{gvar}_post -= w*cut"
        delay = {"late": K * dt * ms}
    S = Synapses(G, G, "w : 1", on_pre=on_pre, delay=delay, namespace=dict(cut=D["cut"]))
    if len(src):
        S.connect(i=src.astype(np.int32), j=tgt.astype(np.int32))
        S.w = P["r"] * w / D["decay"]  # lag 0 weighs r·w after the start-of-step decay
    net = Network(*objs, S)
    out["build_s"] = time.perf_counter() - t0
    if args.warmup: net.run(args.warmup * dt * ms)
    G.cnt = 0
    t_meas = time.perf_counter()
    net.run(args.steps * dt * ms)
    if cpp:
        b2.device.build(directory=build_dir, compile=True, run=True, with_output=False)
        sim_s = b2.device._last_run_time  # the binary's own timing of the last (measured) run
        out["compile_s"] = time.perf_counter() - t0 - sim_s
        out["make_s"] = b2.device.timers["compile"]["make"]
        with open(os.path.join(b2.device.results_dir, "maxrss_kb.txt")) as f: binary_rss = int(f.read()) / 1024
        out["driver_rss_mb"] = maxrss_mb()
        out["peak_rss_mb"] = binary_rss
    else:
        sim_s = b2.device._last_run_time  # Brian2's timing of the run loop (no before_run preparation)
        out["run_call_s"] = time.perf_counter() - t_meas
        out["compile_s"] = t_meas - t0
        out["peak_rss_mb"] = maxrss_mb()
    out["n_spikes"] = int(np.asarray(G.cnt[:]).sum())
    out["ms_per_step"] = sim_s * 1000 / args.steps
    out["version"] = f"brian2 {b2.__version__}"
    if cpp and not args.build_dir: shutil.rmtree(build_dir, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- NEST
def run_nest(args, n, src, tgt, w, P, out):
    os.environ.setdefault("PYNEST_QUIET", "1")
    stdout = sys.stdout
    sys.stdout = sys.stderr  # keep NEST's banner and messages off the JSON line
    try:
        import nest
        try: nest.verbosity = nest.VerbosityLevel.ERROR
        except AttributeError: nest.set_verbosity("M_ERROR")
    finally:
        sys.stdout = stdout
    D = derived(args.model, P)
    dt, K = D["dt"], D["K"]
    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.SetKernelStatus(dict(resolution=dt, local_num_threads=args.threads or 1, rng_seed=args.seed + 1, print_time=False))
    if args.model == "rectified":
        params = dict(tau_m=P["tau"], c_1=1000.0 * P["lambda_0"], c_2=1000.0 * P["lambda_0"] * (P["b"] - P["theta"]),
                      c_3=0.0, dead_time=0.0, with_reset=False, I_e=0.0, V_m=0.0)
    else:
        A = D["A"]
        if A < 1: raise SystemExit("nest: abs_ref_scale must be >= 1 (dead_time = 0 makes pp_psc_delta draw Poisson counts)")
        params = dict(tau_m=1.0 / D["alpha"], c_1=0.0, c_2=1000.0 * math.exp(-P["theta"]), c_3=1.0, dead_time=A * dt,
                      dead_time_random=False, with_reset=False, I_e=0.0, V_m=0.0)
        if D["R"] > 0 and P["rel_ref_strength"] != 0:
            params.update(tau_sfa=[1.0 / D["beta"]], q_sfa=[-P["rel_ref_strength"] * math.exp(D["beta"] * (A + 1) * dt)])
    nodes = nest.Create("pp_psc_delta", n, params=params)
    first = nodes.tolist()[0] if n else 1
    pre, post = (src + first).astype(np.int64), (tgt + first).astype(np.int64)
    if len(src):
        syn = dict(synapse_model="static_synapse", weight=P["r"] * w, delay=np.full(len(src), dt))
        nest.Connect(pre, post, conn_spec="one_to_one", syn_spec=syn)
        if args.kernel == "exact":  # cancel the exponential tail from lag K on: arrives K steps after the first
            syn = dict(synapse_model="static_synapse", weight=-P["r"] * w * D["cut"], delay=np.full(len(src), (K + 1) * dt))
            nest.Connect(pre, post, conn_spec="one_to_one", syn_spec=syn)
    out["build_s"] = time.perf_counter() - t0
    out["n_connections"] = nest.GetKernelStatus("num_connections")
    nest.Prepare()
    if args.warmup: nest.Run(args.warmup * dt)
    t_meas = time.perf_counter()
    nest.Run(args.steps * dt)
    sim_s = time.perf_counter() - t_meas
    # spikes emitted in the last Run() (NEST 3.10 resets the counter at every Run; multiplicities count)
    out["n_spikes"] = int(nest.GetKernelStatus("local_spike_counter"))
    nest.Cleanup()
    out["compile_s"] = t_meas - t0
    out["ms_per_step"] = sim_s * 1000 / args.steps
    out["peak_rss_mb"] = maxrss_mb()
    out["version"] = f"nest {nest.__version__}"


# ----------------------------------------------------------------------------------------------- ours
def run_ours(args, n, src, tgt, w, P, out):
    import torch
    from torch_geometric.data import Data
    from spikeometric_nb.models import BernoulliGLM, RectifiedLNP
    import spikeometric_nb
    if args.threads: torch.set_num_threads(args.threads)
    P = dict(P)
    if args.kernel == "exp":  # emulate the untruncated exponentials: drop a tail < 1e-6
        if args.model == "rectified": P["T"] = 14.0 * P["tau"]
        else:
            P["coupling_window"] = math.ceil(14 / (abs(P["alpha"]) * P["dt"]))
            P["rel_ref_scale"] = math.ceil(14 / (abs(P["beta"]) * P["dt"]))
        out["params_used"] = P
    t0 = time.perf_counter()
    data = Data(edge_index=torch.stack([torch.from_numpy(src), torch.from_numpy(tgt)]),
                W0=torch.from_numpy(w.astype(np.float32)), num_nodes=n)
    cls = RectifiedLNP if args.model == "rectified" else BernoulliGLM
    model = cls(**P, rng=torch.Generator().manual_seed(args.seed))
    out["build_s"] = time.perf_counter() - t0
    # simulate() prepares the synapses and runs the warm-up inside; like Brian2's and NEST's timing of their run
    # loop, ms_per_step counts the steps only: the difference between a short and the measured call, per extra step
    if args.steps <= 100: sys.exit("spikeometric_nb: --steps must be > 100 (the time per step is the difference to a 10-step call)")
    short_s = float("inf")
    for _ in range(3):  # the fastest of three: the setup's own noise should not leak into the difference
        t_short = time.perf_counter()
        model.simulate(data, n_steps=10, equilibration_steps=args.warmup, verbose=False, record=args.record)
        short_s = min(short_s, time.perf_counter() - t_short)
    t_meas = time.perf_counter()
    spikes = model.simulate(data, n_steps=args.steps, equilibration_steps=args.warmup, verbose=False, record=args.record)
    sim_s = time.perf_counter() - t_meas
    per_step = max(sim_s - short_s, 0.0) / (args.steps - 10)
    out["n_spikes"] = int(spikes.count.sum()) if args.record == "events" else int(spikes.sum())
    out["record"] = args.record
    out["ms_per_step"] = per_step * 1000
    out["setup_s"] = sim_s - per_step * (args.steps + args.warmup)  # preparing the synapses, once per simulate() call
    out["compile_s"] = out["build_s"] + sim_s - per_step * args.steps  # everything before the measured steps, as for the others
    out["simulate_s"] = sim_s
    out["peak_rss_mb"] = maxrss_mb()
    out["threads"] = torch.get_num_threads()
    out["version"] = f"spikeometric_nb {getattr(spikeometric_nb, '__version__', '?')}, torch {torch.__version__}"


def rss_wrapper(cmd):
    "Run the brian2-cpp binary; write its own peak RSS (kB) into its results directory."
    rc = subprocess.call(cmd)
    results = cmd[cmd.index("--results_dir") + 1] if "--results_dir" in cmd else "results"
    with open(os.path.join(results, "maxrss_kb.txt"), "w") as f: f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    sys.exit(rc)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == _RSS_WRAPPER: return rss_wrapper(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, choices=ENGINES)
    ap.add_argument("--network", required=True, help=".npz with source, target, weight, n_neurons")
    ap.add_argument("--model", required=True, choices=sorted(DEFAULTS))
    ap.add_argument("--params", default="{}", help="JSON object overriding the model's defaults")
    ap.add_argument("--steps", type=int, default=1000, help="measured steps")
    ap.add_argument("--warmup", type=int, default=500, help="unmeasured steps before (default 500)")
    ap.add_argument("--threads", type=int, default=None, help="NEST local_num_threads / torch threads (Brian2 ignores it)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--record", choices=["events", "dense"], default="events",
                    help="spikeometric_nb: what simulate() keeps; events (default) keeps every spike, more than Brian2's "
                         "and NEST's spike counts here; dense is 1.0.3's [N, steps] array")
    ap.add_argument("--kernel", choices=["exact", "exp"], default="exact",
                    help="exact: truncated filters as in spikeometric_nb; exp: untruncated exponentials (cheaper)")
    ap.add_argument("--omp-wait-policy", choices=["passive", "active", "inherit"], default="passive",
                    help="OMP_WAIT_POLICY for NEST's and torch's OpenMP threads (default passive: on a machine shared with "
                         "other jobs, spinning threads made 2-thread runs 3-5x slower; inherit keeps the environment's)")
    ap.add_argument("--build-dir", help="brian2-cpp: keep the generated project here (default: a temporary folder, removed)")
    ap.add_argument("--cython-cache", help="brian2-cython: Cython cache folder (default Brian2's; an empty one times compilation)")
    args = ap.parse_args(argv)
    P = dict(DEFAULTS[args.model])
    extra = json.loads(args.params)
    unknown = set(extra) - set(P)
    if unknown: raise SystemExit(f"--params: unknown parameter(s) {sorted(unknown)} for {args.model}; known: {sorted(P)}")
    P.update(extra)
    if args.steps < 1 or args.warmup < 0: raise SystemExit("--steps must be >= 1 and --warmup >= 0")
    if args.omp_wait_policy != "inherit": os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()  # before any OpenMP runtime loads
    n, src, tgt, w = load_network(args.network)
    out = dict(engine=args.engine, model=args.model, kernel=args.kernel, n_neurons=n, n_synapses=int(len(src)),
               n_steps=args.steps, warmup_steps=args.warmup, dt_ms=P["dt"], threads=args.threads,
               network=os.path.basename(args.network), seed=args.seed,
               omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", "unset"), params=P)
    run = {"brian2-cython": run_brian2, "brian2-cpp": run_brian2, "nest": run_nest, "spikeometric_nb": run_ours}[args.engine]
    run(args, n, src, tgt, w, P, out)
    out["rate_hz"] = out["n_spikes"] / (n * args.steps * P["dt"]) * 1000 if n else 0.0
    keys = ["engine", "model", "n_neurons", "n_synapses", "n_steps", "ms_per_step", "compile_s", "rate_hz", "peak_rss_mb"]
    print(json.dumps({**{k: out.pop(k) for k in keys}, **out}), flush=True)


if __name__ == "__main__":
    main()
