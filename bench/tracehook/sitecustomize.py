"""Soak diagnosis: with AFTERCARE_TRACE=<file>, SIGUSR2 takes a baseline tracemalloc
snapshot and SIGUSR1 writes the top growth since it to <file>."""
import os
import signal
import tracemalloc

out = os.environ.get("AFTERCARE_TRACE")
if out:
    tracemalloc.start(12)
    state = {}

    def base(*_):
        state["base"] = tracemalloc.take_snapshot()

    def dump(*_):
        snap = tracemalloc.take_snapshot()
        stats = snap.compare_to(state["base"], "traceback")
        with open(out, "w") as fh:
            for s in stats[:25]:
                fh.write(f"{s.size_diff/1024:10.1f} KiB {s.count_diff:+7d} blocks\n")
                for line in s.traceback.format()[-8:]:
                    fh.write(f"      {line}\n")

    signal.signal(signal.SIGUSR2, base)
    signal.signal(signal.SIGUSR1, dump)
