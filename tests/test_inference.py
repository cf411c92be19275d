"""`score` against sklearn.metrics and scipy.stats on random networks (ties and one-class truths included), and
`infer(method="cross_correlation")` against numpy's Pearson r of the shifted dense trains."""
import math, warnings
import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.metrics import average_precision_score, matthews_corrcoef, roc_auc_score
from torch_geometric.data import Data
from spikeometric_nb.inference import infer, score
from spikeometric_nb.recording import SpikeEvents

def _network(W: np.ndarray) -> Data:
    "The network of a square weight matrix W[j, i] (its nonzero entries as edges, in a shuffled order)."
    j, i = np.nonzero(W)
    order = np.random.default_rng(len(j)).permutation(len(j))
    return Data(edge_index=torch.tensor(np.stack([j[order], i[order]]), dtype=torch.long),
                W0=torch.tensor(W[j[order], i[order]], dtype=torch.float64), num_nodes=len(W))

def _reference(W: np.ndarray, W_hat: np.ndarray) -> dict:
    "The scores as sklearn and scipy compute them on the off-diagonal pairs, row by row."
    off = ~np.eye(len(W), dtype=bool)
    w, w_hat = W[off], W_hat[off]
    y, s = (w != 0).astype(int), np.abs(w_hat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # one-class truths and constant weights warn, by design
        auc = roc_auc_score(y, s) if 0 < y.sum() < len(y) else math.nan   # sklearn raises or warns + NaN
        ap = average_precision_score(y, s)
        mcc = max([matthews_corrcoef(y, s >= t) for t in np.unique(s)] + [matthews_corrcoef(y, s > s.max())])
        r = pearsonr(w, w_hat).statistic if np.ptp(w) > 0 and np.ptp(w_hat) > 0 else math.nan
    sign = float(np.mean(np.sign(w_hat[y == 1]) == np.sign(w[y == 1]))) if y.any() else math.nan
    return dict(roc_auc=auc, average_precision=ap, mcc=mcc, sign_accuracy=sign, pearson_r=r)

def _cases(n_cases=200, seed=0):
    "Random truths and estimates: sizes 2 … 12, sparse to dense, estimates with many ties, one-class truths."
    rng = np.random.default_rng(seed)
    for c in range(n_cases):
        N = int(rng.integers(2, 13))
        p = [0.0, 1.0, rng.uniform(0.05, 0.95)][c % 3] if c % 5 == 0 else rng.uniform(0.05, 0.95)
        W = np.where(rng.random((N, N)) < p, rng.normal(size=(N, N)), 0.0)
        if c % 4 == 0: W = np.round(W)   # integer weights: some edges round to 0, ties in the truth
        W_hat = W * rng.uniform(0, 2) + rng.normal(scale=rng.uniform(0, 2), size=(N, N))
        if c % 2 == 0: W_hat = np.round(W_hat * rng.integers(1, 4)) / 2   # few distinct values: many ties
        if c % 7 == 0: W_hat[:] = rng.choice([0.0, 1.0])                  # a constant estimate
        yield W, W_hat

def test_score_equals_sklearn_and_scipy():
    worst, one_class = {}, 0
    for W, W_hat in _cases():
        ours, ref = score(_network(W), _network(W_hat)), _reference(W, W_hat)
        off = ~np.eye(len(W), dtype=bool)
        one_class += (W[off] != 0).all() or (W[off] == 0).all()
        for key, value in ref.items():
            if math.isnan(value): assert math.isnan(ours[key]), (key, ours, ref)
            else:
                assert abs(ours[key] - value) <= 1e-9, (key, ours[key], value)
                worst[key] = max(worst.get(key, 0.0), abs(ours[key] - value))
    assert one_class >= 15, one_class                      # the one-class cases were exercised
    print("max |ours - reference|:", worst)

def test_score_one_class_and_errors():
    W = np.zeros((3, 3)); W_hat = np.random.default_rng(1).normal(size=(3, 3))
    s = score(_network(W), _network(W_hat))                # no connected pair: AUC undefined, AP 0 as in sklearn
    assert math.isnan(s["roc_auc"]) and s["average_precision"] == 0.0 and s["mcc"] == 0.0
    assert math.isnan(s["sign_accuracy"]) and math.isnan(s["pearson_r"])
    full = np.ones((3, 3)) - np.eye(3)
    s = score(_network(full), _network(W_hat))             # every pair connected: AP 1, AUC undefined
    assert math.isnan(s["roc_auc"]) and abs(s["average_precision"] - 1.0) < 1e-12
    with pytest.raises(ValueError, match="estimate has 2 neurons"): score(_network(full), _network(np.eye(2)))
    with pytest.raises(ValueError, match="truth must have at least 2 neurons"): score(_network(np.ones((1, 1))), _network(np.ones((1, 1))))
    with pytest.raises(ValueError, match="estimate: W0 must be finite"):
        score(_network(full), Data(edge_index=torch.tensor([[0], [1]]), W0=torch.tensor([math.nan]), num_nodes=3))
    truth = _network(full); before = truth.W0.clone()
    score(truth, truth); assert torch.equal(truth.W0, before)   # nothing the user passed is modified

@pytest.mark.parametrize("seed", range(5))
def test_cross_correlation_equals_numpy(seed):
    g = torch.Generator().manual_seed(seed)
    N, T, K = 5, 300, 4
    x = (torch.rand(N, T, generator=g) < 0.2).int() * torch.randint(1, 3, (N, T), generator=g).int()
    x[4] = 0                                               # a silent neuron correlates 0 with everything
    est = infer(SpikeEvents.from_dense(x, start_step=17, dt=0.5), method="cross_correlation", lags=K)
    xn = x.numpy().astype(float)
    expected = []
    for j, i in est.edge_index.T.tolist():
        rho = [0.0 if j == 4 or i == 4 else np.corrcoef(xn[j, :T - k], xn[i, k:])[0, 1] for k in range(1, K + 1)]
        expected.append(rho[int(np.argmax(np.abs(rho)))])
    np.testing.assert_allclose(est.W0.double().numpy(), expected, atol=1e-6)   # W0 is float32
    assert est.edge_index.shape == (2, N * (N - 1)) and bool((est.edge_index[0] != est.edge_index[1]).all())

# --- method="glm": the matched estimator ---------------------------------------------------------------------------
from spikeometric_nb.datasets import NormalGenerator
from spikeometric_nb.models import BernoulliGLM, PoissonGLM

def _readme_glm(seed: int) -> BernoulliGLM:
    "The BernoulliGLM of the README's sweep (its paper's parameters)."
    return BernoulliGLM(theta=5., dt=1., coupling_window=20, alpha=0.2, abs_ref_scale=3, abs_ref_strength=-100.,
                        rel_ref_scale=7, rel_ref_strength=-30., beta=0.5, r=1., rng=torch.Generator().manual_seed(seed))

def _dense(net: Data) -> torch.Tensor:
    return torch.zeros(net.num_nodes, net.num_nodes).index_put_((net.edge_index[0], net.edge_index[1]), net.W0.float())

def test_glm_accuracy_held_out():
    """A network the chapter does not show (seed 3): the floors sit just below what an independent implementation
    reached on such networks at 10⁶ steps (ROC-AUC 0.89, Pearson r 0.85, slope 1.0); the chapter's network gives
    0.888 / 0.867 / 0.998. Across network seeds the AUC of 990 positives against 8,910 negatives varies by about
    0.01, so 0.87 and 0.83 leave about two such deviations."""
    net = NormalGenerator(100, mean=0., std=5., sparsity=0.9, glorot=True, rng=torch.Generator().manual_seed(3)).generate(1)[0]
    model = _readme_glm(4)
    events = model.simulate(net, 10**6, record="events", verbose=False)
    estimate = infer(events, model)
    scores = score(net, estimate)
    W, W_hat = _dense(net), _dense(estimate)
    connected = W != 0
    slope = float((W_hat[connected] * W[connected]).sum() / W[connected].square().sum())
    print(scores, slope)
    assert scores["roc_auc"] > 0.87 and scores["pearson_r"] > 0.83, scores
    assert abs(slope - 1) < 0.05, slope                                  # the model's own scale
    assert abs(float(estimate.bias.mean()) + 5) < 0.05                     # c = −θ = −5 for every neuron

@pytest.fixture(scope="module")
def small_recording():
    net = NormalGenerator(20, mean=0., std=5., sparsity=0.8, glorot=True, rng=torch.Generator().manual_seed(0)).generate(1)[0]
    model = _readme_glm(1)
    return net, model, model.simulate(net, 20_000, record="events", verbose=False)

def test_glm_same_estimate_from_every_form_of_the_recording(small_recording, tmp_path):
    "Events, the dense counts and what read_sonata / read_nwb return give one estimate; nothing passed is modified."
    from spikeometric_nb.io import read_nwb, read_sonata, write_nwb, write_sonata
    net, model, events = small_recording
    columns = [events.neuron.clone(), events.step.clone(), events.count.clone()]
    reference = infer(events, model)
    assert all(torch.equal(a, b) for a, b in zip(columns, [events.neuron, events.step, events.count]))
    dense = events.to_dense()
    for spikes in (dense, read_sonata(write_sonata(tmp_path / "r.h5", events, network=net))[0],
                   read_nwb(write_nwb(tmp_path / "r.nwb", events, network=net))[0]):
        estimate = infer(spikes, model)
        assert torch.allclose(estimate.W0, reference.W0, atol=1e-5) and torch.allclose(estimate.bias, reference.bias, atol=1e-5)
    assert torch.equal(dense, events.to_dense())

def test_glm_candidate_network_and_penalties(small_recording):
    net, model, events = small_recording
    full = infer(events, model)
    on_truth = infer(events, model, network=net)
    assert torch.equal(on_truth.edge_index, net.edge_index) and on_truth.W0.shape == net.W0.shape
    # knowing the structure, the estimate of the true edges is closer to the truth than the full fit's
    W, W_full, W_truth = _dense(net), _dense(full), _dense(on_truth)
    mask = W != 0
    assert (W_truth[mask] - W[mask]).square().mean() < (W_full[mask] - W[mask]).square().mean()
    norms = [float(_dense(infer(events, model, penalty="l2", strength=s)).square().sum()) for s in (1e-5, 1e-4, 1e-3)]
    assert norms[0] > norms[1] > norms[2], norms                          # a stronger ridge, smaller weights
    sparse_fit = _dense(infer(events, model, penalty="l1", strength=3e-4))
    small = lambda A: float((A.abs() < 0.05).double().mean())
    assert small(sparse_fit) > small(W_full) + 0.2, (small(sparse_fit), small(W_full))   # the lasso zeroes weights

def test_glm_mismatched_model_runs_and_is_worse(small_recording):
    "A PoissonGLM's exponential link fitted to BernoulliGLM spikes: a valid estimate, on another scale."
    net, model, events = small_recording
    poisson = PoissonGLM(alpha=100., beta=1., T=20., tau=5., dt=1., r=1., b=0.)
    estimate = infer(events, poisson)
    assert torch.isfinite(estimate.W0).all() and torch.isfinite(estimate.bias).all()
    # chance is 0.5; with ~76 connected against ~304 unconnected pairs its standard error is
    # sqrt((P + Q + 1) / (12 P Q)) ≈ 0.034, so 0.6 is 3 standard errors above chance (the matched fit gives ≈ 0.66)
    assert score(net, estimate)["roc_auc"] > 0.6
