"""The optional generator: an OpenAI-compatible chat endpoint that rephrases a grounded answer
from its cited quotes alone. Off by default; the bot is complete without it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .answer import CITATION_MARK, Answer


@dataclass
class Generator:
    """Optional rephrasing by an OpenAI-compatible chat endpoint (``VERTICALS_SUPPORT_LLM_URL``).

    The grounded answer stays the source of truth: the generator sees only the cited quotes,
    must keep the ``[n]`` markers, and any failure falls back to the extractive text.
    """

    url: str
    model: str = "default"
    api_key: str = ""
    timeout: float = 20.0

    @classmethod
    def from_env(cls) -> Generator | None:
        url = os.environ.get("VERTICALS_SUPPORT_LLM_URL", "").strip()
        if not url:
            return None
        return cls(url.rstrip("/"), os.environ.get("VERTICALS_SUPPORT_LLM_MODEL", "default"),
                   os.environ.get("VERTICALS_SUPPORT_LLM_KEY", ""))

    def rephrase(self, question: str, answer: Answer) -> Answer:
        import httpx

        sources = "\n".join(f"[{c.n}] {c.quote}" for c in answer.citations)
        prompt = (f"Answer the customer's question using only these sources, keep the [n] "
                  f"markers after the facts they support.\n\nSources:\n{sources}\n\n"
                  f"Question: {question}")
        try:
            reply = httpx.post(
                f"{self.url}/chat/completions", timeout=self.timeout,
                headers={"Authorization": f"Bearer {self.api_key}"} if self.api_key else {},
                json={"model": self.model, "messages": [{"role": "user", "content": prompt}]})
            reply.raise_for_status()
            text = reply.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError):
            return answer  # subtle: TypeError for a body of the wrong shape (a list, a null choice)
        if not isinstance(text, str):  # "content": null (a refusal, a tool call)
            return answer
        text = text.strip()
        cited = {int(n) for n in CITATION_MARK.findall(text)}
        if not cited or not cited <= {c.n for c in answer.citations}:
            return answer  # subtle: without citations, or citing a source it was not given,
            # the reply is not grounded; keep ours
        answer.text = text
        return answer
