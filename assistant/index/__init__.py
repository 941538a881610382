"""Stage 2, storing: the Chroma store, the side index beside it (full text, vectors, visibility),
the embedder, and the writer that puts articles into both.
"""
