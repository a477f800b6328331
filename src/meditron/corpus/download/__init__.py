"""`meditron corpus download`: fetch PubMed, PMC Open Access, guideline sites and HF datasets into the layouts the
corpus sources read, each with a ``manifest.json`` of what was verified (see docs/DATA.md)."""
