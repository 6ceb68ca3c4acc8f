"""The deterministic conversational pipeline (no LLM).

A turn goes through seven pipeline stages. Stages 01-05 hold "content" slots
that the words of the user's messages fill in their natural order; stage 06
generates the next question (``qgen``) and stage 07 checks it (``qcheck``):
a question equal to the session's ``last_question`` is a duplicate, a message
of fewer than three words fails specificity, a message without any content
word fails tacit power. Everything depends only on the text and on what the
session already holds, so tests and backup/restore comparisons are exact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Dict, List, Optional

STAGES = (
    "stage01_intake",
    "stage02_context",
    "stage03_plan",
    "stage04_slot_fill",
    "stage05_retrieve",
    "stage06_qgen",
    "stage07_qcheck",
)

SLOT_SCHEMA: Dict[str, tuple] = {
    "stage01_intake": ("topic", "goal"),
    "stage02_context": ("background", "constraint"),
    "stage03_plan": ("approach",),
    "stage04_slot_fill": ("actor", "action", "outcome"),
    "stage05_retrieve": ("evidence",),
    "stage06_qgen": ("question",),
    "stage07_qcheck": ("checked_question",),
}
CONTENT_STAGES = STAGES[:5]
QCHECK_STAGE = "stage07_qcheck"
QGEN_STAGE = "stage06_qgen"

MAX_FILLS_PER_TURN = 3
MIN_WORDS = 3

STOPWORDS = frozenset(
    """about above after again against also because been before being below between
    both could does doing down during each from further have having here hers herself
    himself into itself just more most myself once only other ours ourselves over
    same should some such than that their theirs them themselves then there these
    they this those through under until very were what when where which while whom
    with would your yours yourself yourselves please thanks thank""".split()
)

_WORD = re.compile(r"\w+", re.UNICODE)

QCHECK_DUPLICATE = "duplicate_question"
QCHECK_SPECIFICITY = "specificity_below_threshold"
QCHECK_TACIT = "tacit_power_below_threshold"


def words(text: str) -> List[str]:
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> List[str]:
    seen, out = set(), []
    for word in words(text):
        if len(word) >= 4 and word not in STOPWORDS and not word.isdigit() and word not in seen:
            seen.add(word)
            out.append(word)
    return out


def embedding(text: str, dims: int = 8) -> List[float]:
    """Deterministic unit vector derived from the SHA-256 of the text."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    raw = [int.from_bytes(digest[4 * i:4 * i + 4], "big") / 2**32 * 2 - 1 for i in range(dims)]
    norm = sum(v * v for v in raw) ** 0.5 or 1.0
    return [round(v / norm, 6) for v in raw]


def token_count(text: str) -> int:
    return len(words(text))


@dataclasses.dataclass
class SlotEvent:
    stage: str
    slot: str
    value: str
    duplicate: bool


@dataclasses.dataclass
class TurnPlan:
    reply: str
    question: Optional[str]
    qcheck_passed: bool
    qcheck_fail_reason: Optional[str]
    slot_updates: Dict[tuple, str]            # (stage, slot) -> value
    slot_events: List[SlotEvent]
    coverage: Dict[str, float]                # stage -> 0..1 after the turn
    duplicates: Dict[str, int]                # stage -> duplicates found this turn
    checks: Dict[str, int]                    # stage -> slot fill attempts / qchecks this turn
    last_question: Optional[str]
    tokens: int


def plan_turn(text: str, slots: Dict[str, Dict[str, str]], last_question: Optional[str]) -> TurnPlan:
    """Decide everything a turn does, from the text and the session's slots."""
    filled = {stage: dict(slots.get(stage, {})) for stage in STAGES}
    updates: Dict[tuple, str] = {}
    events: List[SlotEvent] = []
    duplicates = {stage: 0 for stage in STAGES}
    checks = {stage: 0 for stage in STAGES}

    known_values = {}
    for stage in CONTENT_STAGES:
        for value in filled[stage].values():
            known_values.setdefault(value, stage)

    kws = content_words(text)
    fills = 0
    for word in kws:
        if fills >= MAX_FILLS_PER_TURN:
            break
        if word in known_values:
            stage = known_values[word]
            slot = next(s for s, v in filled[stage].items() if v == word)
            duplicates[stage] += 1
            checks[stage] += 1
            events.append(SlotEvent(stage, slot, word, True))
            continue
        target = None
        for stage in CONTENT_STAGES:
            for slot in SLOT_SCHEMA[stage]:
                if slot not in filled[stage]:
                    target = (stage, slot)
                    break
            if target:
                break
        if target is None:
            break
        stage, slot = target
        filled[stage][slot] = word
        updates[(stage, slot)] = word
        known_values[word] = stage
        checks[stage] += 1
        events.append(SlotEvent(stage, slot, word, False))
        fills += 1

    # stage06: question generation (always one question per turn)
    keyword = kws[0] if kws else "that"
    question = f"Could you tell me more about {keyword}?"
    filled[QGEN_STAGE]["question"] = question
    updates[(QGEN_STAGE, "question")] = question
    checks[QGEN_STAGE] += 1

    # stage07: question check
    checks[QCHECK_STAGE] += 1
    reason = None
    if len(words(text)) < MIN_WORDS:
        reason = QCHECK_SPECIFICITY
    elif not kws:
        reason = QCHECK_TACIT
    elif last_question is not None and question == last_question:
        reason = QCHECK_DUPLICATE
        duplicates[QCHECK_STAGE] += 1
    passed = reason is None
    if passed:
        filled[QCHECK_STAGE]["checked_question"] = question
        updates[(QCHECK_STAGE, "checked_question")] = question
        reply = f"Noted: {', '.join(kws[:MAX_FILLS_PER_TURN])}. {question}"
        new_last = question
    else:
        reply = "Thanks, noted. Please go on."
        new_last = last_question

    coverage = {
        stage: round(len(filled[stage]) / len(SLOT_SCHEMA[stage]), 6) for stage in STAGES
    }
    return TurnPlan(
        reply=reply,
        question=question if passed else None,
        qcheck_passed=passed,
        qcheck_fail_reason=reason,
        slot_updates=updates,
        slot_events=events,
        coverage=coverage,
        duplicates=duplicates,
        checks=checks,
        last_question=new_last,
        tokens=token_count(text) + token_count(reply),
    )
