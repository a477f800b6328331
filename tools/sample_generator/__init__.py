"""The embedded sample's generator: a development tool, kept out of the ``meditron`` wheel.

Run from the repository root (the wheel ships only the generated files under ``src/meditron/sample/``)::

    python -m tools.sample_generator [--out DIR]          # rewrite every sample file (default: the package's)
    python -m tools.sample_generator.build_tokenizer     # then retrain the sample tokenizer on the result

The sample's facts (conditions, studies, exam questions, replay texts...) are YAML files in ``facts/``; the Python
modules in ``gen/`` only render them into the official file layouts. See docs/SAMPLE.md.
"""
