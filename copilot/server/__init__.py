"""`copilot serve`: the firm-wide server, the only thing clients reach (README, "Serving a whole firm").

It takes each client's identity from the platform (the Unix socket's peer
credentials, or the client certificate of a mutual-TLS connection), gives that
identity its walls from the policy file, and answers through the local engine
(`copilot.engine.local.Copilot`, over the index's Chroma server and the model
servers), writing every answer to the one audit trail.  A name a client sends
is never believed.
"""
