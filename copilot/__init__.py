"""copilot: an offline copilot that answers from a firm's own documents, with citations."""

__version__ = "0.1.0"
