"""Outside language models: the openai client (the only module that talks to it) and the llama.cpp
server this machine can run.
"""
