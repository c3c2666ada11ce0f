"""How the contract's records read as text: shared by every edge (the CLI, the app, an export).

The CLI and the app show the same answer the same way; a client of a remote
engine, which has only these records, must too: so the wording lives here,
beside the records, not in either edge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from copilot.core.answers import Answer, Claim

# The colour each state of a file is shown in (`copilot index --status`, the app's index screen).
STATE_STYLE = {"indexed": "green", "skipped": "red", "stale": "yellow", "pending": "magenta"}


class Checks:
    """A report of checks, a line each ("ok " or "BAD", what was checked, the detail), as
    `copilot doctor` and `copilot serve --check` print it; `ok` while every check has passed."""

    def __init__(self, echo: Callable[[str], None]):
        self.echo, self.ok = echo, True

    def __call__(self, good: bool, what: str, detail: str) -> None:
        self.ok = self.ok and bool(good)
        self.echo(f"{'ok ' if good else 'BAD'}  {what:<18} {detail}")


def report(claims: Sequence[Claim], found: bool) -> list[str]:
    """The check's verdict as lines for a terminal (empty when there is nothing to say).

    A found answer is checked against the sentences it quotes: one line when
    all of it is borne out, else each sentence that is not, flagged.  A
    draft that was not given as the answer is shown flagged.
    """
    if not claims:
        return []
    checked = [c for c in claims if not c.restates]
    if not found:
        return ["The model's draft above is not borne out by the documents, so it is not given as an answer:"] + [
            f"  ⚠ {c.text}" for c in checked
        ]
    if all(c.supported for c in checked):
        return ["Checked: the answer is borne out by the quoted text."] if checked else []
    return ["Checked against the documents:"] + [
        f"  ⚠ not in the documents: {c.text}" for c in checked if not c.supported
    ]


def quote_lines(answer: Answer) -> list[str]:
    """Each quote of `answer` as the user reads it: the sentence, then where it is."""
    lines = []
    for quote, citation in answer.quoted():
        lines += [f"  “{quote.text}”", f"      — {citation.label()}"]
    return lines


def markdown(answer: Answer) -> str:
    """`answer` as text to paste or file (Markdown): what a lawyer pastes into a memo must
    carry its sources, so each travels as `[n] file, page N` with its passage quoted.

    `answer` as Markdown: question, answer, verdict, then its sources quoted."""
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
