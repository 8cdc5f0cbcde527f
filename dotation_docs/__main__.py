"""Entry point for ``python -m dotation_docs``."""

from dotation_docs.cli import main

main()
