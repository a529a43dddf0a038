"""``python -m tasoc_core`` runs the ``tasoc`` command line."""

from tasoc_core.cli import main

main()
