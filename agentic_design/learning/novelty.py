"""Novelty before evaluation: how close a proposal's code is to the designs already held.

- `EmbeddingIndex`: designs' code embeddings as unit vectors, searched by cosine similarity
  within the pipeline's snapshot (ids <= upto), so the answer never depends on which proposal
  thread added its vector first.
- `to_blob` / `from_blob`: a vector as the store keeps it.
- `parse_judgement`: an LLM judge's reply (NOVEL / NOT NOVEL and why), read as models write it.
- `closest_by_text`: the nearest designs by text, for a judge with no embedding model.

Similarities are rounded to 6 decimals: a replay on another machine (another BLAS, another
summation order) must not flip a threshold on the last bit.
"""

from __future__ import annotations

import difflib
import io
import json
import re
import threading
import tokenize
from bisect import insort
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from agentic_design import lenient_json

DECIMALS = 6
_FIRST_ROWS = 16
_TEXT_CHARS = 6000  # each side of a text comparison, so that it stays cheap
_REASON_CHARS = 300
#: How far below the k-th best a fast similarity may be and still be scored exactly: far above
#: float32's error on a product of unit vectors.
_MARGIN = 1e-3


class EmbeddingIndex:
    """Unit vectors of designs' code by design id, searched by cosine similarity.

    Rows live in one float32 matrix that doubles when full; a query is one matrix-vector
    product over the rows in use. Safe to share between proposal threads: rows once written
    never change, so a query reads a snapshot taken under the lock and computes outside it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._matrix: np.ndarray | None = None  # (capacity, dim) float32
        self._ids = np.empty(0, dtype=np.int64)  # (capacity,)
        self._count = 0
        self._held: set[int] = set()

    def __len__(self) -> int:
        return self._count

    def __contains__(self, design_id: object) -> bool:
        with self._lock:
            return design_id in self._held

    @property
    def dimension(self) -> int | None:
        """The vectors' length, set by the first one added; None while empty."""
        matrix = self._matrix
        return None if matrix is None else int(matrix.shape[1])

    def add(self, design_id: int, vector: Sequence[float] | np.ndarray) -> None:
        """Hold `vector` for `design_id`; an id already held keeps its first vector. ValueError
        for a vector of another dimension than the first, or a zero or non-finite one."""
        unit = _unit(vector)
        with self._lock:
            if design_id in self._held:
                return
            if self._matrix is None:
                self._matrix = np.empty((_FIRST_ROWS, unit.size), dtype=np.float32)
                self._ids = np.empty(_FIRST_ROWS, dtype=np.int64)
            elif unit.size != self._matrix.shape[1]:
                raise ValueError(
                    f"an embedding of dimension {unit.size}, but the index holds dimension "
                    f"{self._matrix.shape[1]}"
                )
            if self._count == self._matrix.shape[0]:
                self._grow()
            self._matrix[self._count] = unit
            self._ids[self._count] = design_id
            self._count += 1
            self._held.add(design_id)

    def nearest(
        self,
        vector: Sequence[float] | np.ndarray,
        *,
        upto: int,
        k: int = 3,
        exclude: Collection[int] = (),
    ) -> list[tuple[int, float]]:
        """The `k` held designs with id <= `upto` and not in `exclude` most similar to
        `vector`, as (id, cosine similarity), best first; equal similarities (after rounding)
        put the smaller id first. [] when there are none."""
        query = _unit(vector)
        with self._lock:
            matrix, ids, count = self._matrix, self._ids, self._count
        if matrix is None or count == 0 or k <= 0:
            return []
        if query.size != matrix.shape[1]:
            raise ValueError(
                f"a query of dimension {query.size}, but the index holds dimension "
                f"{matrix.shape[1]}"
            )
        ids = ids[:count]
        mask = ids <= upto
        if exclude:
            mask &= ~np.isin(ids, np.fromiter(exclude, dtype=np.int64))
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return []
        # The product over all rows finds the candidates fast, but its last bits depend on
        # where a row sits in the matrix (the kernels' blocking), which depends on the order
        # the vectors came in: a timing. So the candidates near the k-th best are scored again
        # in a way that does not (`_exact_dots`), and ties then go to the smaller id on every
        # run.
        fast = (matrix[:count] @ query)[rows]
        if k < rows.size:
            kth = np.partition(fast, rows.size - k)[rows.size - k]
            rows = rows[fast >= kth - _MARGIN]
        exact = np.round(_exact_dots(matrix[rows], query), DECIMALS)
        found = ids[rows]
        order = np.lexsort((found, -exact))[:k]
        return [(int(found[i]), float(exact[i])) for i in order]

    def _grow(self) -> None:
        assert self._matrix is not None
        capacity = 2 * self._matrix.shape[0]
        matrix = np.empty((capacity, self._matrix.shape[1]), dtype=np.float32)
        matrix[: self._count] = self._matrix[: self._count]
        ids = np.empty(capacity, dtype=np.int64)
        ids[: self._count] = self._ids[: self._count]
        # New arrays, not resized ones: a query may still be reading the old ones.
        self._matrix, self._ids = matrix, ids


def _exact_dots(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Each row's dot product with `query`, the same whatever the row's place: float32
    products are exact in float64, and numpy sums each contiguous row on its own, pairwise,
    in an order that depends only on the row's length."""
    return (rows.astype(np.float64) * query.astype(np.float64)).sum(axis=1)


def _unit(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"an embedding must be a non-empty vector, not shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("an embedding with a non-finite value")
    norm = float(np.linalg.norm(array))
    if norm == 0.0:
        raise ValueError("a zero embedding has no direction")
    return (array / norm).astype(np.float32)


def to_blob(vector: Sequence[float] | np.ndarray) -> bytes:
    """A vector as float32 little-endian bytes, as the store keeps it."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """The float32 vector `to_blob` wrote."""
    if len(blob) % 4:
        raise ValueError(f"an embedding blob of {len(blob)} bytes is no float32 vector")
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


# --- the judge's reply ---------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """What an LLM judge said of a proposal: `novel` None where the reply said neither."""

    novel: bool | None
    reason: str  # one or two sentences from the reply, at most 300 characters


_THINKING = re.compile(r"<(think|thinking|reasoning)>.*?(?:</\1>|\Z)", re.DOTALL | re.IGNORECASE)
_CODE_FENCE = re.compile(r"```[ \t]*(?:python|py)\b.*?(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_CODE_LINE = re.compile(r"^(?:def |class |import \w|from [\w.]+ import |@\w)", re.MULTILINE)
_MARKUP = re.compile(r"[*`]+|^[ \t]*(?:#+|>+|[-+•]|\d{1,2}[.)])[ \t]+", re.MULTILINE)
_JSON_VERDICT_KEYS = (
    *("novel", "is_novel", "isnovel", "is_new", "new", "novelty", "verdict", "decision"),
    *("answer", "judgement", "judgment", "meaningfully_new"),
)
_JSON_REASON_KEYS = ("reason", "reasoning", "explanation", "why", "rationale", "justification")
_LABEL = re.compile(
    r"^(?:final\s+)?(verdict|answer|decision|judge?ment|conclusion|result|novel(?:ty)?|"
    r"is\s+it\s+novel\??|reason|reasoning|why|explanation|rationale)\s*(?:[:=\-—–]+\s*(.*)|$)",
    re.IGNORECASE,
)
_REASON_LABELS = ("reason", "reasoning", "why", "explanation", "rationale")
_REASON_LABEL = re.compile(rf"^(?:{'|'.join(_REASON_LABELS)})\s*:\s*", re.IGNORECASE)

_MODIFIER = (
    r"(?:(?:meaningfully|genuinely|truly|really|sufficiently|substantially|clearly|very|"
    r"definitely|certainly|probably|likely)\s+)"
)
_NO_AT_START = re.compile(
    rf"^(?:not?\s*[-\s]?{_MODIFIER}?(?:novel|new|different)\b|no\b|nope\b|non-novel\b|false\b|"
    r"duplicate\b|redundant\b|reject(?:ed)?\b)",
    re.IGNORECASE,
)
_YES_AT_START = re.compile(
    rf"^(?:{_MODIFIER}?(?:novel|new|different)\b|yes\b|true\b|accept(?:ed)?\b)", re.IGNORECASE
)
_NO_PHRASE = re.compile(
    r"\b(?:not|n't|never|hardly|barely)\s+(?:\w+\s+){0,2}?(?:novel|new|different|distinct)\b|"
    r"\bno\s+(?:meaningful|real|substantial|significant|genuine)\s+"
    r"(?:difference|change|novelty|new\s+idea)|"
    r"\btoo\s+(?:similar|close)\b|\b(?:nearly|essentially|almost|virtually)\s+(?:identical|the\s+same)|"
    r"\bessentially\s+(?:a\s+copy|a\s+rename|design\s*#)|\bsame\s+(?:idea|algorithm|approach|design)\b|"
    r"\b(?:a|is\s+a)\s+duplicate\b|\b(?:only|merely|just)\s+(?:renames|reformats|re-?tunes|reorders)\b|"
    r"\bnot\s+novel\b|\blacks\s+novelty\b",
    re.IGNORECASE,
)
_YES_PHRASE = re.compile(
    r"\b(?:is|it's|seems|looks|appears|are)\s+(?:(?:indeed|quite|both|also)\s+)?(?:an?\s+)?"
    rf"{_MODIFIER}?(?:novel|new|different)\b|\bgenuinely\s+(?:novel|new)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def parse_judgement(text: str) -> Judgement:
    """Read a novelty judge's reply. The verdict is looked for, in this order, in a JSON object
    (`{"novel": false, "reason": ...}`, fenced or not), on a labelled line (`Verdict: NOT
    NOVEL`), at the start of the first line (`NOVEL`, `No.`, `Yes, ...`), and last in the
    sentences (`... is not meaningfully different from #4`); a sentence that says both, or a
    reply that says neither gives `novel=None`. Reasoning blocks (`<think>...</think>`) are
    not read; of a reply with Python code in it (a design sent by mistake: its dicts and
    comments say nothing of novelty) only a first line before the code is."""
    text = _THINKING.sub("", text or "")
    if "</think>" in text.lower():  # a server that drops the opening tag
        text = text[text.lower().rindex("</think>") + len("</think>") :]
    text = text.strip()
    if not text:
        return Judgement(None, "")
    code = _CODE_FENCE.search(text) or _CODE_LINE.search(text)
    if code:  # a design sent by mistake: only what comes before its code may be a verdict
        return _from_first_line(text[: code.start()]) or Judgement(None, "")
    for read in (_from_json, _from_labels, _from_first_line, _from_phrases):
        found = read(text)
        if found is not None:
            return found
    return Judgement(None, _reason(text))


def _from_json(text: str) -> Judgement | None:
    if "{" not in text:
        return None
    for value, _, _ in lenient_json.values_in(text, "{", max_failures=8):
        if not isinstance(value, dict):
            continue
        keys = {str(key).lower().replace(" ", "_"): item for key, item in value.items()}
        verdict = next((keys[key] for key in _JSON_VERDICT_KEYS if key in keys), None)
        reason = next((keys[key] for key in _JSON_REASON_KEYS if key in keys), "")
        novel = _verdict_value(verdict)
        if novel is not None:
            reason_text = reason if isinstance(reason, str) else json.dumps(reason)
            return Judgement(novel, _reason(reason_text))
    return None


def _verdict_value(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _verdict_at_start(value)[0]
    return None


def _from_labels(text: str) -> Judgement | None:
    lines = _plain_lines(text)
    verdict: tuple[bool, str, int] | None = None
    reason = ""
    for index, line in enumerate(lines):
        match = _LABEL.match(line)
        if not match:
            continue
        label, value, at = match.group(1).lower(), (match.group(2) or "").strip(), index
        # A heading ("## Verdict", then "NOT NOVEL"); a line "NOVEL" is a verdict, no heading.
        if not value and not label.startswith("novel") and index + 1 < len(lines):
            at, value = index + 1, lines[index + 1]
        if label in _REASON_LABELS:
            reason = reason or value
            continue
        novel, rest = _verdict_at_start(value)
        if novel is not None and verdict is None:
            verdict = (novel, rest, at)
    if verdict is None:
        return None
    novel, rest, index = verdict
    return Judgement(novel, _reason(reason or rest or " ".join(lines[index + 1 :])))


def _from_first_line(text: str) -> Judgement | None:
    lines = _plain_lines(text)
    novel, rest = _verdict_at_start(lines[0]) if lines else (None, "")
    if novel is None:
        return None
    return Judgement(novel, _reason(rest or " ".join(lines[1:])))


def _from_phrases(text: str) -> Judgement | None:
    sentences = [s for s in _SENTENCE_END.split(_MARKUP.sub("", text)) if s.strip()]
    for index, sentence in enumerate(sentences):
        no, yes = bool(_NO_PHRASE.search(sentence)), bool(_YES_PHRASE.search(sentence))
        if no and yes:
            return Judgement(None, _reason(" ".join(sentences[index:])))
        if no or yes:
            return Judgement(yes, _reason(" ".join(sentences[index:])))
    return None


def _verdict_at_start(value: str) -> tuple[bool | None, str]:
    """The verdict a phrase starts with (`NOT NOVEL — ...`, `Yes, ...`) and the rest of it."""
    value = _MARKUP.sub("", value).replace("_", " ").strip(" \t\"'")
    for pattern, novel in ((_NO_AT_START, False), (_YES_AT_START, True)):
        match = pattern.match(value)
        if match:
            return novel, value[match.end() :]
    return None, value


def _plain_lines(text: str) -> list[str]:
    return [line for raw in text.splitlines() if (line := _MARKUP.sub("", raw).strip())]


def _reason(text: str) -> str:
    """One or two sentences, at most 300 characters, without the separators before them."""
    text = " ".join(_MARKUP.sub("", text).split()).lstrip(" .,;:!-—–")
    text = _REASON_LABEL.sub("", text)
    sentences = re.split(r"(?<=[.!?])\s+", text)
    reason = " ".join(sentences[:2])
    if len(reason) > _REASON_CHARS:
        reason = reason[: _REASON_CHARS - 1].rstrip() + "…"
    return reason


# --- closeness by text ---------------------------------------------------------------------

_CODE_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d*)?|\S")


def closest_by_text(
    code: str, candidates: Sequence[tuple[int, str]], k: int
) -> list[tuple[int, float]]:
    """The `k` candidates (id, code) most like `code`, for a judge with no embedding model:
    difflib's SequenceMatcher ratio over the code's tokens (identifiers, numbers, single
    symbols) with comments and blank lines dropped, each side cut to its first 6,000
    characters; best first, ties to the smaller id, rounded to 6 decimals. Tokens rather than
    characters: as cheap as a comparison of lines, yet a renamed variable costs only its own
    occurrences."""
    if k <= 0 or not candidates:
        return []
    matcher = difflib.SequenceMatcher(None, autojunk=False)  # autojunk drops common tokens
    matcher.set_seq2(_tokens(code))  # seq2 is the side SequenceMatcher indexes once
    scored: list[tuple[float, int, list[str]]] = []
    for design_id, other in candidates:
        tokens = _tokens(other)
        matcher.set_seq1(tokens)
        scored.append((round(matcher.quick_ratio(), DECIMALS), design_id, tokens))
    # quick_ratio bounds ratio from above: once it falls below the k-th best, stop.
    scored.sort(key=lambda item: (-item[0], item[1]))
    best: list[tuple[float, int]] = []  # (-ratio, id), kept sorted
    for bound, design_id, tokens in scored:
        if len(best) >= k and bound < -best[k - 1][0]:
            break
        matcher.set_seq1(tokens)
        insort(best, (-round(matcher.ratio(), DECIMALS), design_id))
    return [(design_id, -negative) for negative, design_id in best[:k]]


def _tokens(code: str) -> list[str]:
    # A generous cut before the comments go, so that a huge module costs little either way.
    return _CODE_TOKEN.findall(_without_comments(code[: 4 * _TEXT_CHARS])[:_TEXT_CHARS])


def _without_comments(code: str) -> str:
    """The code with its comments and blank lines dropped. Code that does not tokenize (a
    proposal may be broken) loses only its whole-line comments."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        lines = [line for line in code.splitlines() if not line.lstrip().startswith("#")]
    else:
        lines = code.split("\n")  # as tokenize counts rows (splitlines also splits at \f)
        for token in tokens:
            if token.type == tokenize.COMMENT:
                row, col = token.start
                lines[row - 1] = lines[row - 1][:col]
    return "\n".join(line.rstrip() for line in lines if line.strip())
