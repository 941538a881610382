"""Scoring answers against fixture files, the llama-index peers they are compared with, and the
benchmarks.
"""
