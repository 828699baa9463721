"""``python -m musegen`` is the ``gen`` command."""

from musegen.cli import main

main()
