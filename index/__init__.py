"""Indexing: loaders, chunking, embedding, the manifest and the Chroma store."""
