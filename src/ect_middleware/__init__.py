"""ect-middleware: Execution Context Tokens for Python agent services."""

__version__ = "0.1.0"
