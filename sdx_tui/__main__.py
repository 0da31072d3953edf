"""Run the desk with `python -m sdx_tui`."""

from __future__ import annotations

from sdx_tui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
