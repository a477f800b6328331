"""meditron.data"""
