"""`python -m archiver` runs the command line."""

from archiver.cli import main

if __name__ == "__main__":  # worker processes import this module again and must not run it
    main()
