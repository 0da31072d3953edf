"""Run by the race test in a separate process: try one transition, say who won."""

from __future__ import annotations

import sys

from sdx_tui.backend.db import Database
from sdx_tui.backend.errors import IllegalTransition
from sdx_tui.backend.lifecycle import transition_script
from sdx_tui.backend.models import ScriptStatus


def main(url: str, script_id: int, wanted: str) -> None:
    database = Database.open(url)
    try:
        with database.session() as session:
            transition_script(session, script_id, ScriptStatus(wanted))
        print("won")
    except IllegalTransition:
        print("lost")
    finally:
        database.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
