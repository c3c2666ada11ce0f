"""The model runtime: llama.cpp on this machine, or a model server, and the models it runs.

    runtime    the CPU kernels and GPUs llama.cpp computes on; loading a model; its metadata
    generator  the `Generator` over a local GGUF model
    endpoint   the `Generator` over an OpenAI-compatible model server
    server     the model servers as this install starts them (llama-server; llama_cpp.server)
    models     the packaged models, assembled and verified on first use
    catalog    every model this machine can use, and its quantization

Below the engine, beside the answer stages (neither imports the other).
"""
