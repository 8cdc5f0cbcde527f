"""dotation-docs: official paperwork of a public IT-equipment handover programme."""

from pathlib import Path

__version__ = "0.1.0"

#: The folder the documents are written into when the agent names none.
DEFAULT_OUTPUT = Path("output")
