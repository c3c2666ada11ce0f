"""The foundation every other package stands on.

    records    what indexing and retrieval pass along (pages, chunks, hits, citations, the ledger's rows)
    answers    an answer and its parts (quotes, claims, confidence, timings, why "not found")
    protocols  what the stages need of a model and an embedder
    admin      what the engine reports about itself (models, totals, the audit trail's state)
    contract   the `Engine` the command line and the app talk to, and the audit trail's protocol
    config     the one frozen `Config`: config.toml, then COPILOT_* variables, then flags
    errors, walls, offline, report, hashing, sanitize, sentences, streams, present: the small rules

It imports nothing else of ours (tests/unit/test_layers.py holds it to that), so the
indexer, the engine, the command line and the app can all depend on it.
"""
