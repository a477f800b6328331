"""PHI/PII scrubbing: typed placeholders instead of e-mails, phone/fax numbers, personal URLs, SSNs, MRNs, IPs."""

from meditron.corpus.phi.scrubber import PHI_PATTERNS, PhiScrubber, scrub

__all__ = ["PHI_PATTERNS", "PhiScrubber", "scrub"]
