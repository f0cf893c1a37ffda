"""`python -m l2advisor` runs the command line."""

from l2advisor.cli.app import main

main()
