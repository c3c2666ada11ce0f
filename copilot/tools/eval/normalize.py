"""Does an answer hold the gold value?  States, dates in any common form, durations.

CUAD's gold answers are normalized values ("Oklahoma", "5/1/2006", "successive
1 year", "90 days", "perpetual"); a model writes "the laws of the State of
Oklahoma", "May 1, 2006", "the 1st day of May 2006", "one (1) year".  Each
gold value is compared by kind: a date by its known parts (CUAD writes an
unknown day as "[]"), a duration by amount and unit (a year is 12 months),
anything else as a phrase.  A gold value "A; B" needs both; "A / B" either.
"""

from __future__ import annotations

import re

MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9

WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
WORDS.update({"thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60,
              "seventy": 70, "eighty": 80, "ninety": 90, "a": 1, "an": 1})
UNITS = {"hour": ("hours", 1), "day": ("days", 1), "business day": ("days", 1), "week": ("days", 7),
         "month": ("months", 1), "year": ("months", 12)}
PERPETUAL = re.compile(r"perpetu|indefinite|no (fixed )?(expiration|end|term)|until terminated", re.I)
ALIASES = {"people's republic of china": ("china", "prc"), "federal republic of germany": ("germany",),
           "england": ("england", "english law", "united kingdom")}

_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_ORD = r"(\d{1,2})\s*(?:st|nd|rd|th)?"
DATE_FORMS = (
    (re.compile(rf"\b{_MONTH}\s+{_ORD},?\s+(\d{{4}})\b", re.I), ("m", "d", "y")),  # May 1, 2006
    (re.compile(rf"\b{_ORD}\s+(?:day\s+of\s+)?{_MONTH},?\s+(\d{{4}})\b", re.I), ("d", "m", "y")),  # 1st day of May 2006
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), ("y", "m", "d")),  # 2006-05-01
    (re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})\b"), ("m", "d", "y")),  # 5/1/2006
    (re.compile(rf"\b{_MONTH}(?:\s+_+)?,?\s+(\d{{4}})\b", re.I), ("m", "y")),  # May 2006, May __, 2006
)
DURATION = re.compile(
    r"\b(\d+|[a-z]+(?:-[a-z]+)?)\s*(?:\((\d+)\)\s*)?(?:calendar\s+|consecutive\s+)?"
    r"(business day|hour|day|week|month|year)s?\b", re.I)


def _number(word: str, digits: str | None) -> int | None:
    if digits:
        return int(digits)
    if word.isdigit():
        return int(word)
    word = word.lower()
    tens, _, unit = word.partition("-")  # "forty-eight"
    if unit and WORDS.get(tens, 0) >= 20 and WORDS.get(unit, 99) < 10:
        return WORDS[tens] + WORDS[unit]
    return WORDS.get(word)


def _month(value: str) -> int:
    v = value.lower().rstrip(".")
    return int(v) if v.isdigit() else MONTHS.get(v) or MONTHS[v[:3]]


def dates(text: str) -> list[dict[str, int]]:
    """Every date written in `text`, as {"y", "m", "d"} (a month-year date has no "d")."""
    found = []
    for pattern, order in DATE_FORMS:
        for match in pattern.finditer(text):
            parts = dict(zip(order, match.groups()))
            try:
                date = {"m": _month(parts["m"]), "y": int(parts["y"])}
                if date["y"] < 100:
                    date["y"] += 2000 if date["y"] < 50 else 1900
                if "d" in parts:
                    date["d"] = int(parts["d"])
            except (KeyError, ValueError):
                continue
            if 1 <= date["m"] <= 12 and 1 <= date.get("d", 1) <= 31:
                found.append(date)
    return found


def durations(text: str) -> set[tuple[int, str]]:
    """Every duration in `text` as (amount, "hours" | "days" | "months"); a year counts 12 months."""
    found = set()
    for word, digits, unit in DURATION.findall(text):
        amount = _number(word, digits)
        if amount is None:
            continue
        kind, factor = UNITS[unit.lower()]
        found.add((amount * factor, kind))
    return found


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9']+", text.lower())) + " "


def _one(gold: str, answer: str) -> bool:
    gold = gold.strip()
    if gold.lower() == "perpetual":
        return bool(PERPETUAL.search(answer))
    date = re.fullmatch(r"(\d{1,2}|\[\])/(\d{1,2}|\[\])/(\d{4})", gold)
    if date:
        want = {k: int(v) for k, v in zip("mdy", date.groups()) if v != "[]"}
        return any(all(d.get(k) == v for k, v in want.items()) for d in dates(answer))
    wanted = durations(gold)
    if wanted:
        return wanted <= durations(answer)
    phrase = _words(gold)
    names = (phrase, *(_words(a) for a in ALIASES.get(gold.lower(), ())))
    if "," in gold:  # "Ontario, Canada": the region alone is enough
        names += (_words(gold.split(",")[0]),)
    return any(name in _words(answer) for name in names)


def matches(gold: str, answer: str) -> bool:
    """True when `answer` states the gold value (see the module's rules)."""
    return all(
        any(_one(alternative, answer) for alternative in part.split(" / "))
        for part in gold.split(";")
    )
