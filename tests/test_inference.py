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
