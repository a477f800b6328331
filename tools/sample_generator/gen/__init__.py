"""Hand-written content and renderers behind ``tools.sample_generator.generate`` (the sample's generator).

Every sentence here was written for this project. The renderers combine the hand-written facts with varied templates
so the sample reads like real clinical prose while staying small and fully reproducible from a seed.
"""
