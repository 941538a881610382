from assistant.surfaces.cli import main

main()
