"""robots.txt per host, read once per crawl with the stdlib parser (user-agent groups, Allow/Disallow, Crawl-delay).

Fetching rules follow RFC 9309: 2xx → the file's rules; 4xx (no file) → everything allowed; 5xx or no answer →
everything disallowed (the site may be down; crawling it blind is what the RFC asks us not to do).
"""

from __future__ import annotations

import urllib.robotparser
from urllib.parse import urlsplit

from meditron.corpus.download.http import DownloadError, PoliteClient


class RobotsRules:
    """The robots.txt decisions for one user agent, cached per ``scheme://host``."""

    def __init__(self, client: PoliteClient, user_agent: str):
        self.client = client
        self.agent = user_agent.split("/")[0]  # robots.txt groups name the product token ("meditron-corpus")
        self._parsers: dict[str, urllib.robotparser.RobotFileParser] = {}

    def _parser(self, url: str) -> urllib.robotparser.RobotFileParser:
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self._parsers:
            parser = urllib.robotparser.RobotFileParser(root + "/robots.txt")
            try:
                response = self.client.get(root + "/robots.txt")
                status = response.status_code
            except DownloadError:
                status = 503
            if 200 <= status < 300:
                parser.parse(response.text.splitlines())
            elif 400 <= status < 500:
                parser.allow_all = True
            else:
                parser.disallow_all = True
            self._parsers[root] = parser
        return self._parsers[root]

    def allowed(self, url: str) -> bool:
        return self._parser(url).can_fetch(self.agent, url)

    def crawl_delay(self, url: str) -> float:
        delay = self._parser(url).crawl_delay(self.agent)
        return float(delay) if delay else 0.0
