"""Quantizing models into the GGUF that fits a firm's hardware (`copilot quantize`).

Not built yet: no command uses this package until its issue lands.
"""
