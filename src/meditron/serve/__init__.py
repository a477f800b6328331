"""meditron.serve"""
