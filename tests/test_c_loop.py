"The compiled loop's C source: compiled with every common warning as an error, and its constants declared once."
import os, re, shutil, subprocess, tempfile
from pathlib import Path
import pytest
from spikeometric_nb.compiled_loop import _FLAGS, MAX_THREADS, LoopCode, step_loop_source
from spikeometric_nb.base_model import SAMPLERS

CC = os.environ.get("CC", "cc")
WARNINGS = ["-Wall", "-Wextra", "-Werror"]

def compile_strictly(source:str) -> subprocess.CompletedProcess:
    "Compile `source` as the loop is built (`_FLAGS`), with `WARNINGS`: returncode 0 only without a warning."
    with tempfile.TemporaryDirectory() as tmp:
        c_file = Path(tmp) / "step_loop.c"
        c_file.write_text(source)
        return subprocess.run([CC, *_FLAGS, *WARNINGS, "-o", str(Path(tmp) / "step_loop.so"), str(c_file), "-lm"],
                              capture_output=True, text=True)

needs_compiler = pytest.mark.skipif(shutil.which(CC) is None, reason=f"no C compiler ({CC})")

@needs_compiler
def test_compiles_without_a_warning():
    built = compile_strictly(step_loop_source())
    assert built.returncode == 0 and "warning" not in built.stderr, built.stderr

@needs_compiler
def test_a_warning_fails():   # the check has teeth: an unused variable is an error under these flags
    built = compile_strictly(step_loop_source() + "\nint unused_variable(void) { int x; return 0; }\n")
    assert built.returncode != 0 and "unused variable" in built.stderr, built.stderr

def test_codes_and_thread_limit_written_once():
    source = step_loop_source()
    codes = ", ".join(f"{code.name} = {code.value}" for code in LoopCode)
    assert source.count(f"enum {{ {codes} }};") == 1
    assert source.count(f"enum {{ MAX_THREADS = {MAX_THREADS} }};") == 1
    for code in LoopCode: assert len(re.findall(rf"\b{code.name}\s*=", source)) == 1, code   # nowhere else by hand
    assert {sampler.error for sampler in SAMPLERS.values()} <= set(LoopCode.__members__)
