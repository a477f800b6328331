"""meditron.train"""
