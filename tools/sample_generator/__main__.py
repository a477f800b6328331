"""``python -m tools.sample_generator [--out DIR]``: rebuild the embedded sample."""

from tools.sample_generator.generate import main

main()
