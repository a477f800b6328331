"""``python -m meditron ...``: the same CLI, needed under ``torchrun`` which launches a module."""

from meditron.cli import main

if __name__ == "__main__":
    main()
