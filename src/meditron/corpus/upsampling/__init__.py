"""MEDITRON's PMC upsampling (Table 10 / App. B.4) as a corpus step: rules as data (``paper_rules.yaml``), the
engine (``rules``), the user's CSV tables (``tables``), the PMID join of MEDLINE terms (``join``) and the step
(``step.Upsampler``). Configured by ``corpus.upsampling`` (``meditron.corpus.config.UpsamplingConfig``)."""
