"""Reading the provider's card-step pages: the few marked elements the reader relies on.

Why a parser of its own rather than regular expressions over HTML: attribute order, quoting
and entities are the template's business; the reader only depends on the names the contract
fixes (``meta[name=psc-idp-card-step]``, ``form#card-abandon`` and its hidden inputs, the
refusal sentence ``#card-refusal-message``, the error pages' ``#error-description``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

CARD_STEP_META = "psc-idp-card-step"
ABANDON_FORM = "card-abandon"
MESSAGE_IDS = ("card-refusal-message", "error-description", "login-error")
"""Elements whose text is the provider's French sentence for a person, best first."""


@dataclass
class PageFacts:
    """What a provider page says, as far as the reader is concerned."""

    tls_step: str = ""
    abandon_action: str = ""
    abandon_fields: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    title: str = ""
    heading: str = ""

    def message(self) -> str:
        """The page's sentence for a person: a marked message, else its heading or title."""
        for element_id in MESSAGE_IDS:
            if self.messages.get(element_id):
                return self.messages[element_id]
        return self.messages.get("error") or self.heading or self.title


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = PageFacts()
        self._in_abandon = False
        self._capture: list[tuple[str, str, list[str]]] = []  # (key, tag, text parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and a.get("name") == CARD_STEP_META:
            self.facts.tls_step = a.get("content", "").strip()
        elif tag == "form" and a.get("id") == ABANDON_FORM:
            self._in_abandon = True
            self.facts.abandon_action = a.get("action", "")
        elif tag == "input" and self._in_abandon and a.get("name"):
            self.facts.abandon_fields[a["name"]] = a.get("value", "")
        key = ""
        if a.get("id") in MESSAGE_IDS:
            key = a["id"]
        elif "error" in a.get("class", "").split() and "error" not in self.facts.messages:
            key = "error"
        elif tag in ("title", "h1") and not (self.facts.title if tag == "title"
                                              else self.facts.heading):
            key = tag
        if key:
            self._capture.append((key, tag, []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_abandon = False
        if self._capture and self._capture[-1][1] == tag:
            key, _, parts = self._capture.pop()
            text = " ".join("".join(parts).split())
            if key == "title":
                self.facts.title = text
            elif key == "h1":
                self.facts.heading = text
            else:
                self.facts.messages.setdefault(key, text)

    def handle_data(self, data: str) -> None:
        for _, _, parts in self._capture:
            parts.append(data)


def read_page(html: str) -> PageFacts:
    """The card-step facts of one provider page (missing ones are empty)."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.facts
