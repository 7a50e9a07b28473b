from hyrun.collector import pause_for_startup

pause_for_startup()  # before Hydra's and torch's imports: they are most of what it would scan

from hyrun.cli import main

if __name__ == "__main__":  # not when a spawned process imports it
    main()
