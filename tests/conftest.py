"""The property-based tests draw the same examples on every run (hypothesis's `derandomize`), so that a
test run, and CI, gives the same verdict for the same code. To search for new failing inputs, run them
with fresh random examples and more of them, e.g.
`SPIKEOMETRIC_NB_FUZZ_RANDOM=1 SPIKEOMETRIC_NB_FUZZ_EXAMPLES=3000 pytest tests/test_fuzz*.py`;
hypothesis then prints the smallest failing input, which belongs in a test of its own."""
import os
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile("explore" if os.environ.get("SPIKEOMETRIC_NB_FUZZ_RANDOM") else "repeatable")
