"""One signature per entry point: a model's `simulate` and `tune` are `simulation.simulate` and `tuning.tune`
(attached to `BaseModel` by those modules, imported by the package), found however the model was imported."""
import inspect, os, subprocess, sys, textwrap
from pathlib import Path

import pytest

from spikeometric_nb import simulation, tuning
from spikeometric_nb.base_model import BaseModel

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name, function", [("simulate", simulation.simulate), ("tune", tuning.tune)])
def test_method_is_the_function(name, function):
    "The same parameters, defaults and docstring: nothing restated that could drift."
    method = getattr(BaseModel, name)
    assert inspect.signature(method) == inspect.signature(function)
    assert method.__doc__ == function.__doc__
    assert method.__code__.co_code == function.__code__.co_code


def _fresh(*parts: str) -> None:
    "Run the script `parts` in a new interpreter that imports this checkout's package; fail unless it succeeds."
    script = "\n".join(textwrap.dedent(part) for part in parts)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


RING = """
import warnings, torch
from torch_geometric.data import Data
ring = Data(edge_index=torch.tensor([[0, 1, 2], [1, 2, 0]]), W0=torch.tensor([0.5, 0.5, 0.5]), num_nodes=3)
"""


def test_models_module_alone_gives_the_methods():
    "The seed's only import: `from spikeometric_nb.models import RectifiedLNP`, then `model.tune` and `model.simulate`."
    _fresh("""
        from spikeometric_nb.models import RectifiedLNP
        """, RING, """
        model = RectifiedLNP(lambda_0=100., theta=1e-4, T=2, tau=10., dt=0.1, r=0.025, b=0.001,
                             rng=torch.Generator().manual_seed(0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # two epochs do not reach the rate; only the calls are checked
            rates = model.tune(ring, firing_rate=10., n_steps=5, n_epochs=2, verbose=False, equilibration_steps=3)
        assert rates.shape == (2,), rates.shape
        assert model.simulate(ring, n_steps=20, verbose=False).shape == (3, 20)
        """)


def test_base_model_module_alone_gives_the_methods():
    "A custom model, as tutorials/implement_model writes it, from `spikeometric_nb.base_model` alone."
    _fresh("""
        from spikeometric_nb.base_model import BaseModel
        """, RING, """
        class Threshold(BaseModel):
            def input(self, edge_index, W, state, t=None): return self.synaptic_input(edge_index, W, state) + 1.0
            def emit_spikes(self, rates): return (rates > 0.5).int()
        spikes = Threshold().simulate(ring, n_steps=10, verbose=False)
        assert spikes.shape == (3, 10) and bool((spikes == 1).all()), spikes
        assert callable(Threshold.tune)
        """)


def test_tune_method_takes_every_argument_of_tune():
    "The drift that one signature ends: `tuning.tune` takes `equilibration_steps`, and so does `model.tune`."
    from spikeometric_nb.models import RectifiedLNP
    import torch, warnings
    from torch_geometric.data import Data
    ring = Data(edge_index=torch.tensor([[0, 1, 2], [1, 2, 0]]), W0=torch.tensor([0.5, 0.5, 0.5]), num_nodes=3)
    model = RectifiedLNP(lambda_0=100., theta=1e-4, T=2, tau=10., dt=0.1, r=0.025, b=0.001,
                         rng=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # two epochs do not reach the rate; only the call is checked
        assert model.tune(ring, 10., n_steps=5, n_epochs=2, verbose=False, equilibration_steps=3).shape == (2,)



# ---------------------------------------------------------------------------------------------------------------------
# help(): a model's or stimulus's parameters, with the units and ranges of their docments comments, not torch's text.
from spikeometric_nb import base_model, models, stimulus   # noqa: E402

CLASSES = [base_model.BaseModel, models.ExponentialCouplingModel, models.RectifiedLNP, models.PoissonGLM,
           models.BernoulliGLM, models.SAModel, models.RectifiedSAM, models.ThresholdSAM,
           stimulus.BaseStimulus, stimulus.MaskedStimulus, stimulus.RegularStimulus, stimulus.SinStimulus,
           stimulus.PoissonStimulus, stimulus.LoadedStimulus]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_help_shows_the_parameters(cls):
    "Every parameter of the constructor, with its comment (units, range), in `help(cls)`; torch's own text nowhere."
    from fastcore.docments import docments
    import pydoc
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    assert "Initialize internal Module state" not in text
    documented = {name: doc.docment for name, doc in docments(cls.__init__, full=True, returns=False).items()
                  if name != "self"}
    assert documented and all(documented.values()), f"{cls.__name__}: parameters without a comment: {documented}"
    for name, comment in documented.items():
        assert f"\n |      {name} : " in text or f"\n |      {name}\n" in text, f"{cls.__name__}: {name} not in help()"
        assert comment in text, f"{cls.__name__}: the comment of {name} ({comment!r}) is not in help()"
