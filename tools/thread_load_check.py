"""The compiled loop's threads with and without a background load (issue 18, item 7: threads that never cost).

`thread_load_check` times the loop on one thread, on all it may use and as it chooses, alternated
(`spikeometric_nb.benchmark.run_thread_scaling`), once with `load` busy-loop processes at `nice 19` running beside it
and once without. Under the load the loop's own choice must never be slower than one thread.

    python tools/thread_load_check.py RectifiedLNP large --repeats 4
"""
import argparse, contextlib, json, os, subprocess, sys, time

@contextlib.contextmanager
def busy_load(processes:int=2, # busy-loop processes to start
              nice:int=19, # their niceness (19: the lowest priority)
             ):
    "Run `processes` Python busy loops at `nice` for the duration of the `with` block (killed by their ids after)."
    spin = f"import os; os.nice({nice})\nwhile True: pass"
    busy = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(processes)]
    try:
        time.sleep(0.5)   # let them start and take their cores
        yield [p.pid for p in busy]
    finally:
        for p in busy: p.kill()
        for p in busy: p.wait()

def thread_load_check(cases=("RectifiedLNP",), # cases of `run_thread_scaling`: ring, BernoulliGLM, RectifiedLNP, large
                      repeats:int=4, # alternations of one thread, all threads and the loop's choice
                      load:int=2, # busy processes at `nice` during the loaded run
                      nice:int=19, # their niceness
                      steps:int|None=None, # steps per timed call (default: `run_thread_scaling`'s)
                      quick:bool=False, # tiny networks (to check that it runs)
                     ) -> list: # rows of `run_thread_scaling` with `load` (0 or `load`) added
    "The compiled loop's thread scaling of each case, quiet and under `load` nice-`nice` busy processes."
    import torch
    from spikeometric_nb.benchmark import run_thread_scaling
    rows, threads = [], torch.get_num_threads()
    for case in cases:
        for busy in (0, load):
            try:
                with busy_load(busy, nice) if busy else contextlib.nullcontext():
                    row = run_thread_scaling(case, repeats=repeats, steps=steps, quick=quick)
            finally: torch.set_num_threads(threads)   # run_thread_scaling sets one thread, as simulate does
            rows.append(dict(row, load=busy, nice=nice))
    return rows

def describe(row:dict) -> str:
    "One line: case, load, ms per step of each, the paired ratios."
    ms = row["step_ms"]
    return (f"{row['case']:>12} {row['n_synapses']:>11,} syn  load {row['load']}: one {ms['one']:.4f}  all "
            f"{ms['all']:.4f}  chosen {ms['chosen']:.4f} ms/step  one/all {row['all_over_one']:.2f}x  "
            f"one/chosen {row['chosen_over_one']:.2f}x  ({row['threads']} threads, chose {row['chosen_threads']}, "
            f"{row['spikes_per_step']:.0f} spikes/step)")

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=thread_load_check.__doc__)
    p.add_argument("cases", nargs="*", default=["RectifiedLNP"])
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--load", type=int, default=2)
    p.add_argument("--steps", type=int)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    rows = thread_load_check(args.cases, repeats=args.repeats, load=args.load, steps=args.steps, quick=args.quick)
    for row in rows: print(describe(row), flush=True)
    if args.json:
        with open(args.json, "w") as f: json.dump(rows, f, indent=1)
