"""The answer stages: from a question to a grounded answer, one module per stage.

    retrieval   the passages a question may be answered from (dense + lexical, walls inside the query)
    evidence    the sentences of those passages the model is shown
    prompt      what the model reads: the rules, the sentences, the question
    grounding   whether each claim of the reply is borne out by a quoted sentence
    confidence  whether a borne-out draft is shown, from signals that see it
    answerer    the stages in order, streaming, cancellable

They meet at the records and protocols of `copilot.core` (a generator, an
embedder, a store are handed in), so each is tested with fakes; nothing here
knows llama.cpp, Chroma or the engine that wires them.
"""
