"""Stage 1, reading: article files into ``Article`` values, chunks, and copy detection. No store
here.
"""
