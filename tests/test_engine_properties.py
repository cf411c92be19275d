"Property tests of the engine: the fast path (matrix and event-driven) computes the same input as the generic MessagePassing path."
import torch
from hypothesis import given, settings, strategies as st
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from spikeometric_nb.base_model import Propagated
from spikeometric_nb.models import RectifiedLNP
from spikeometric_nb.simulation import EventHistory, EventSynapses, SpikeHistory, Synapses


@st.composite
def networks(draw):
    "A batch of 1–3 random networks of equal size with random weights, sparse or dense."
    n, batch, density = draw(st.integers(2, 12)), draw(st.integers(1, 3)), draw(st.floats(0.05, 1.0))
    seed = draw(st.integers(0, 2**31))
    g = torch.Generator().manual_seed(seed)
    nets = []
    for _ in range(batch):
        W = torch.randn(n, n, generator=g) * (torch.rand(n, n, generator=g) < density)
        W.fill_diagonal_(0)
        edge_index = W.nonzero().t()
        nets.append(Data(edge_index=edge_index, W0=W[edge_index[0], edge_index[1]], num_nodes=n))
    return next(iter(DataLoader(nets, batch_size=batch))), seed


@settings(max_examples=60, deadline=None)
@given(networks(), st.integers(1, 8), st.floats(0.05, 5.0))
def test_fast_path_matches_generic(net_seed, K, tau):
    data, seed = net_seed
    model = RectifiedLNP(lambda_0=1., theta=0., T=K * 0.1, tau=tau, dt=0.1, r=0.7, b=0.3)
    history = SpikeHistory(data.num_nodes, model.K)
    g = torch.Generator().manual_seed(seed)
    for _ in range(K): history.push(torch.poisson(torch.full((data.num_nodes,), 0.5), generator=g))
    inputs = []
    for fast in (False, True):
        edge_index, W, bank = Synapses(model, data, fast=fast).operands()
        inputs.append(model.input(edge_index, W, history.input_state(bank)))
    # event-driven: the same history replayed through the outgoing synapses, as dense rows and as CSR rows
    A, edges = model.filter_weights(data.W0, data.edge_index, num_nodes=data.num_nodes)
    for size in (Synapses(model, data).size, None):
        events = EventHistory(EventSynapses(A, edges, data.num_nodes, size), history)
        inputs.append(model.input(Propagated(), None, events.input_state(model.filter_bank())))
    generic, *others = inputs
    for other in others: assert torch.allclose(other, generic, rtol=1e-5, atol=1e-5 * (1 + generic.abs().max().item()))


def test_edge_between_networks_of_a_batch():
    "Dense blocks hold one network each; an edge across networks must send the batch to the CSR form, with the right input."
    full = lambda: Data(edge_index=(torch.ones(4, 4) - torch.eye(4)).nonzero().t(), W0=torch.ones(12), num_nodes=4)
    batch = next(iter(DataLoader([full(), full()], batch_size=2)))
    batch.edge_index = torch.cat([batch.edge_index, torch.tensor([[0], [5]])], dim=1)   # network 1 -> network 2
    batch.W0 = torch.cat([batch.W0, torch.tensor([10.0])])
    model = RectifiedLNP(lambda_0=1., theta=0., T=0.3, tau=1., dt=0.1, r=1., b=0.)
    history = SpikeHistory(8, 3)
    for spikes in torch.eye(8)[:3]: history.push(spikes)   # neurons 0, 1, 2 spiked in the last three steps
    inputs = []
    for fast in (False, True):
        synapses = Synapses(model, batch, fast=fast)
        edge_index, W, bank = synapses.operands()
        inputs.append(model.input(edge_index, W, history.input_state(bank)))
    assert not synapses.dense
    assert torch.allclose(inputs[1], inputs[0], atol=1e-6) and inputs[0][5] > 5


def test_density_chooses_the_fast_form():
    "A fully connected network takes the dense-block form, a sparse one the CSR form."
    model = RectifiedLNP(lambda_0=1., theta=0., T=0.3, tau=1., dt=0.1, r=1., b=0.)
    full = Data(edge_index=torch.tensor([[0, 1], [1, 0]]), W0=torch.tensor([1., 2.]), num_nodes=2)
    sparse = Data(edge_index=torch.tensor([[0], [1]]), W0=torch.tensor([1.]), num_nodes=10)
    assert Synapses(model, full).dense and not Synapses(model, sparse).dense
