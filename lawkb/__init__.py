"""lawkb: a community legal knowledge base and legal-aid search for China."""

__version__ = "0.1.0"
