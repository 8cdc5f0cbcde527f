"""dotation-docs: official paperwork of a public IT-equipment handover programme."""

__version__ = "0.1.0"
