"""What the inbox and the outbox cost: `bench/replies.py` of the code before them (a git
worktree of BEFORE) and of this tree, one after the other in one run, on the same machine.

    python -m bench.inbox_cost [--messages 5000] [--database postgresql://...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "f5767d6"  # the last commit before the inbox and the outbox


def run(tree: Path, messages: int, database: str | None) -> str:
    command = [sys.executable, "-m", "bench.replies", "--messages", str(messages)]
    if database:
        command += ["--database", database]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--database", help="a PostgreSQL URL (it is emptied); default SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        before = Path(scratch) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(before), BEFORE], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            print(f"== before the inbox and outbox ({BEFORE}): handled straight from memory")
            print(run(before, args.messages, args.database))
            print("== this tree: stored, handled in one transaction, replies from the outbox")
            print(run(ROOT, args.messages, args.database))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT,
                           check=True, capture_output=True)


if __name__ == "__main__":
    main()
