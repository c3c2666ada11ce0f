"""An answer as text to paste or file: the answer, its quotes, the check's verdict, each source in full.

What a lawyer pastes into a memo must carry its sources with it, so the
citations travel as `[n] file, page N` with the passage quoted under each.
"""

from __future__ import annotations

from copilot.grounding import report
from copilot.types import Answer


def markdown(answer: Answer) -> str:
    """`answer` as Markdown: question, answer, verdict, then its sources quoted."""
    lines = [f"**Q:** {answer.question}", "", answer.text]
    for quote, citation in answer.quoted():
        lines += ["", f"> “{quote.text}”", ">", f"> — {citation.label()}"]
    if answer.cancelled:
        lines += ["", "_(cancelled before the answer was complete)_"]
    check = report(answer.claims, answer.found)
    if check:
        lines += [""] + check
    if answer.shown_sources:
        lines += ["", f"**{answer.sources_heading}:**", ""]
        for c in answer.shown_sources:
            lines.append(f"- {c.label()}")
            lines.append("")
            lines += [f"  > {line}" for line in c.text.strip().splitlines() if line.strip()]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
