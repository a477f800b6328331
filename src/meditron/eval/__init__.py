"""meditron.eval"""
