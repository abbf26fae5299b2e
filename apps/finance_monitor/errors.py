"""The error of the fetch path: a source (or a webhook's address) that could not be fetched.

It has a module of its own because three modules raise it: ``fetch`` (HTTP problems), the
``guard`` that ``fetch`` builds on (names that do not resolve, private addresses) and
``sources`` (what was fetched is no feed or page); ``guard`` needs none of ``fetch``.
"""

from __future__ import annotations

from shared.errors import VerticalsError


class FetchError(VerticalsError):
    """A source that could not be fetched; ``retryable`` says whether trying again may help."""

    def __init__(self, url: str, problem: str, retryable: bool = False) -> None:
        self.url, self.problem, self.retryable = url, problem, retryable
        super().__init__(f"{url}: {problem}")
