from agentic_design.entry import main

main()
