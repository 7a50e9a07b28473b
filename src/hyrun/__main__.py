from hyrun.cli import main

main()
