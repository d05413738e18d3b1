"""``python -m dixian.cli``: the same command line as ``dixian``."""

from dixian.cli import main

main()
