"""The ``gen`` program's entry point: Ctrl-C and SIGTERM are handled from its first moment, while the
command line and the plugins are still being imported."""

from __future__ import annotations

import sys


def main() -> None:
    from musegen import interrupts

    interrupts.install()
    try:
        from musegen.cli import main as run
    except KeyboardInterrupt:
        interrupts.caught()
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    run()
