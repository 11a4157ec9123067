"""Node base URLs in one spelling, so that two ways of writing one node compare equal."""

from __future__ import annotations

from urllib.parse import urlsplit

from protocol.errors import InvalidField


class NotABaseUrl(InvalidField):
    """Not an http(s) URL of a node."""

    def __init__(self, url: str) -> None:
        super().__init__("node", f"{url!r} is not a node base URL such as https://mentornet.example.org")
        self.problem = f"{url!r} is not a node base URL such as https://mentornet.example.org"


def normalize_base_url(url: str) -> str:
    """``scheme://host[:port][/path]`` lower-cased, without a trailing slash, query or fragment.

    Raises:
        NotABaseUrl: if it is not an http(s) URL.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise NotABaseUrl(url) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise NotABaseUrl(url)
    netloc = parts.hostname.lower() + (f":{port}" if port else "")
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
