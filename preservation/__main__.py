"""``python -m preservation`` runs the command line."""

from preservation.cli import main

main()
