from agentic_design.cli import main

main()
