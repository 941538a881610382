"""Stage 4, finding passages: hybrid BM25 + dense retrieval, and its llama-index ``BaseRetriever``
face.
"""
