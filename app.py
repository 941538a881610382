"""`python app.py [--host H] [--port P] [--auth user:pass]`: the Gradio app.

The same as `assistant serve`; see README.md for sharing it beyond this machine.
"""

import sys

from assistant.surfaces.cli import main

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "serve", *sys.argv[1:]]
    main()
