"""meditron.corpus"""
