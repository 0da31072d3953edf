"""Run by the exactly-once test in a separate process: launch what is due, a few
times over, starting when the test says so."""

from __future__ import annotations

import sys
from datetime import timedelta

from sdx_tui.backend.db import Database, utcnow
from sdx_tui.backend.launch import launch_due


def main(url: str, rounds: int) -> None:
    database = Database.open(url)
    try:
        # Connect before the start line so both processes begin together.
        with database.reading() as session:
            session.connection()
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(rounds):
            launch_due(database, now=utcnow(), grace=timedelta(minutes=15))
    finally:
        database.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
