"""What people use: the command line, the Gradio web app and the OpenAI-compatible API. The only
modules that turn errors into messages.
"""
