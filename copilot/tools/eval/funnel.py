"""Where answers are lost: the path a present clause takes from retrieval to a right citation.

Each stage keeps only the questions that passed the one before, so the
drop from one row to the next is what that stage loses:

1. the evidence passage is among the passages retrieved (the whole pool the
   evidence sentences are drawn from, `retrieval_depth`), then among the 5
   listed as sources;
2. an evidence sentence is among those the model reads;
3. the copilot answers (does not refuse);
4. the sentence it quotes is evidence, then its citations are all right.

The value's rightness is counted apart, on the questions with a gold value
(of those, the share answered with it, and the share answered with another).
Of absent clauses: the share refused, and of the answers given to them,
how far down the evidence the sentence they quote was (a neighbouring
clause answered in place of the one asked about).
"""

from __future__ import annotations

from collections.abc import Sequence

from copilot.tools.eval.metrics import share

STAGES = (
    ("evidence in the passages retrieved", "pool_hit"),
    ("evidence in the 5 sources", "evidence_hit"),
    ("evidence sentence read by the model", "read_hit"),
    ("answered", "found"),
    ("quote is evidence", "quote_is_evidence"),
    ("citations right", "cited_right"),
)


def funnel(records: Sequence[dict]) -> dict[str, float | None]:
    """The funnel's measures for `records` (see the module), by name."""
    present = [r for r in records if r["present"] and "evidence_hit" in r]
    out: dict[str, float | None] = {}
    alive = present
    for name, key in STAGES:
        alive = [r for r in alive if r.get(key)]
        out[f"present: {name}"] = len(alive) / len(present) if present else None
    gold = [r for r in present if "correct" in r]
    out["gold value: answered right"] = share([r["correct"] for r in gold])
    out["gold value: answered wrong"] = share([r["found"] and not r["correct"] for r in gold])
    out["gold value: right given evidence read"] = share([r["correct"] for r in gold if r.get("read_hit")])
    absent = [r for r in records if not r["present"]]
    answered = [r for r in absent if r["found"]]
    out["absent: refused"] = share([not r["found"] for r in absent])
    out["absent answered: quoting the best sentence"] = share([r.get("quote_rank") == 0 for r in answered])
    out["absent answered: quoting a lower one"] = share([(r.get("quote_rank") or 0) > 0 for r in answered])
    return out


MEASURES = tuple(f"present: {name}" for name, _ in STAGES) + (
    "gold value: answered right", "gold value: answered wrong", "gold value: right given evidence read",
    "absent: refused", "absent answered: quoting the best sentence", "absent answered: quoting a lower one",
)


def wrong_answers(records: Sequence[dict], most: int = 40) -> list[dict]:
    """What answers to absent clauses said and quoted: the cases a refusal had to catch."""
    return [{"id": r["id"], "question": r.get("question", ""), "answer": r["answer"], "quotes": r["quotes"],
             "confidence": (r.get("confidence") or {}).get("value")}
            for r in records if not r["present"] and r["found"]][:most]
