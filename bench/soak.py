"""Memory under steady traffic, from outside: `aftercare run` as a real process against the
sandbox over HTTP, 100 patients writing about 5 messages a second between them and a new
stranger every second, for `--minutes`; the bot's resident memory (RSS, from /proc) every
30 s, and its growth per minute after a warm-up. Flat after warm-up is the target.

    python -m bench.soak [--minutes 30] [--trace FILE]

`--trace FILE` runs the bot under tracemalloc (`bench/tracehook`) and writes the
allocations that grew between the end of the warm-up and the end to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import signal
import tempfile
import time
from pathlib import Path

from bot.sandbox import SandboxTelegram
from bot.sandbox.http import SandboxHTTP
from bot.store.db import Database
from tests.procs import (
    cli,
    daytime_zone,
    environment,
    proc_now,
    seed_due_checkins,
    start_bot,
)

WORDS = ["a bit sore today", "some swelling, less than yesterday", "itchy but fine",
         "all good thanks", "small bruise on the left", "is it normal to feel warm?"]
WARM_UP = 5  # minutes before growth is measured
HOOK = Path(__file__).resolve().parent / "tracehook"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def soak(
    minutes: float, trace: str | None, tree: str | None = None
) -> list[tuple[float, float]]:
    folder = Path(tempfile.mkdtemp(prefix="aftercare-soak-"))
    server = SandboxTelegram(clock=proc_now)
    front = SandboxHTTP(server)
    zone = daytime_zone()
    env = environment(folder, front.url, server.token, CLINIC_TIMEZONE=zone.key,
                      LOG_LEVEL="WARNING")
    if tree:  # another checkout's bot (its own schema: the patients stay strangers)
        env["PYTHONPATH"] = tree
    if trace:
        env |= {"AFTERCARE_TRACE": trace, "PYTHONPATH": f"{HOOK}:{env['PYTHONPATH']}"}
    await cli(env, "db", "upgrade", json_out=False)
    patients = [server.user(f"P{n}") for n in range(100)]
    if not tree:
        db = Database(env["DATABASE_URL"])
        await seed_due_checkins(db, [u.id for u in patients], zone)
        await db.dispose()
    bot = await start_bot(env)
    samples: list[tuple[float, float]] = []
    start = time.monotonic()
    rng = random.Random(7)
    strangers = itertools.count()
    next_sample = 0.0
    traced = False
    try:
        while (elapsed := time.monotonic() - start) < minutes * 60:
            for _ in range(5):
                rng.choice(patients).say(rng.choice(WORDS))
            server.user(f"S{next(strangers)}").say("hello?")
            # The sandbox keeps everything for tests; a soak must not measure its own hoard.
            server.requests.clear()
            if trace and not traced and elapsed >= WARM_UP * 60:
                bot.send_signal(signal.SIGUSR2)
                traced = True
            if elapsed >= next_sample:
                samples.append((elapsed / 60, rss_mb(bot.pid)))
                print(f"  {elapsed / 60:5.1f} min  RSS {samples[-1][1]:6.1f} MB", flush=True)
                next_sample += 30
            await asyncio.sleep(1)
    finally:
        if traced:
            bot.send_signal(signal.SIGUSR1)
            await asyncio.sleep(5)
        bot.send_signal(signal.SIGTERM)
        await bot.wait()
        await front.close()
    return samples


def slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--trace", help="write the allocations that grew to this file")
    parser.add_argument("--tree", help="run the bot of another checkout (a git worktree)")
    args = parser.parse_args()
    print(f"soak: 100 patients, ~5 messages/s, a new stranger every second, {args.minutes:g} min")
    samples = asyncio.run(soak(args.minutes, args.trace, args.tree))
    settled = [s for s in samples if s[0] >= WARM_UP] or samples
    print(f"  RSS {samples[0][1]:.0f} MB at start, {settled[0][1]:.0f} MB after warm-up, "
          f"{samples[-1][1]:.0f} MB at the end; growth after warm-up "
          f"{slope(settled):+.2f} MB/min")


if __name__ == "__main__":
    main()
