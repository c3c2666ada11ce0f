"""The foundation every other package stands on: the records stages exchange, errors,
settings, the walls, the offline guard, text hygiene and the engine contract.

It imports nothing else of ours (tests/test_layers.py holds it to that), so the
indexer, the engine, the command line and the app can all depend on it.
"""
