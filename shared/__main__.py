"""``python -m shared`` runs the ``verticals`` CLI (handy where the entry point is not installed)."""

from .cli import main

main()
