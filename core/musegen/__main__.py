"""``python -m musegen`` is the ``gen`` command."""

from musegen.command import main

main()
