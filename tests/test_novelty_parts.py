"""The parts of novelty before evaluation: the embedding index, reading a judge's reply, closeness
by text, the two prompts, and the test server's embeddings endpoint driven by litellm."""

from __future__ import annotations

import base64
import os
import struct
import threading

import jinja2
import numpy as np
import pytest

from agentic_design.learning.novelty import (
    EmbeddingIndex,
    Judgement,
    closest_by_text,
    from_blob,
    parse_judgement,
    to_blob,
)
from agentic_design.prompts import render
from tests.llm_server import Fault, ScriptedLLM, hashed_embedding

# --- the index -----------------------------------------------------------------------------


def brute_force(matrix, ids, query, *, upto, k, exclude=()):
    """The reference: a Python loop over every row, cosine by hand."""
    q = np.asarray(query, dtype=np.float64)
    q /= np.linalg.norm(q)
    scored = []
    for design_id, row in zip(ids, matrix, strict=True):
        if design_id > upto or design_id in exclude:
            continue
        r = np.asarray(row, dtype=np.float64)
        scored.append((design_id, round(float(r @ q / np.linalg.norm(r)), 6)))
    return sorted(scored, key=lambda item: (-item[1], item[0]))[:k]


def test_the_index_finds_exactly_the_brute_force_neighbours_on_random_data():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(500, 32))
    ids = list(rng.permutation(np.arange(1, 501)))  # added in no particular order
    index = EmbeddingIndex()
    for design_id, row in zip(ids, matrix, strict=True):
        index.add(int(design_id), row)
    assert len(index) == 500 and index.dimension == 32
    for trial in range(20):
        query = rng.normal(size=32)
        upto = int(rng.integers(1, 520))
        exclude = set(rng.integers(1, 500, size=5).tolist())
        got = index.nearest(query, upto=upto, k=5, exclude=exclude)
        want = brute_force(matrix, ids, query, upto=upto, k=5, exclude=exclude)
        assert [d for d, _ in got] == [d for d, _ in want], trial
        assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=2e-6)
        assert all(type(d) is int and type(s) is float for d, s in got)


def test_a_held_vector_is_its_own_nearest_with_similarity_one():
    index = EmbeddingIndex()
    index.add(1, [3.0, 4.0])
    index.add(2, [4.0, -3.0])
    assert index.nearest([6.0, 8.0], upto=2, k=3) == [(1, 1.0), (2, 0.0)]


def test_upto_sees_only_the_snapshot_and_exclude_hides_designs():
    index = EmbeddingIndex()
    for design_id in range(1, 11):
        index.add(design_id, [1.0, design_id / 10])
    query = [1.0, 1.0]
    assert [d for d, _ in index.nearest(query, upto=10, k=2)] == [10, 9]
    assert [d for d, _ in index.nearest(query, upto=4, k=2)] == [4, 3]  # 5..10 not yet finished
    assert [d for d, _ in index.nearest(query, upto=10, k=2, exclude={10, 8})] == [9, 7]
    assert index.nearest(query, upto=0, k=3) == []
    assert index.nearest(query, upto=2, k=3, exclude=[1, 2]) == []
    assert EmbeddingIndex().nearest(query, upto=100) == []


def test_equal_similarities_put_the_smaller_id_first_whatever_the_order_added():
    index = EmbeddingIndex()
    for design_id in (9, 4, 7, 2, 5):
        index.add(design_id, [1.0, 0.0])
    index.add(1, [0.0, 1.0])
    assert index.nearest([2.0, 0.0], upto=99, k=3) == [(2, 1.0), (4, 1.0), (5, 1.0)]


def test_similarities_are_rounded_so_that_the_last_bits_cannot_flip_a_threshold():
    index = EmbeddingIndex()
    index.add(1, [1.0, 1e-4])
    ((_, similarity),) = index.nearest([1.0, 0.0], upto=1, k=1)
    assert similarity == round(similarity, 6) == 1.0  # cos = 0.999999995...


def test_re_adding_an_id_keeps_the_first_vector():
    index = EmbeddingIndex()
    index.add(3, [1.0, 0.0])
    index.add(3, [0.0, 1.0])
    assert len(index) == 1 and 3 in index and 4 not in index and "3" not in index
    assert index.nearest([1.0, 0.0], upto=3) == [(3, 1.0)]


def test_a_vector_of_another_dimension_a_zero_or_a_non_finite_one_is_refused():
    index = EmbeddingIndex()
    index.add(1, [1.0, 2.0, 3.0])
    for bad in ([1.0, 2.0], [0.0, 0.0, 0.0], [1.0, float("nan"), 0.0], [1.0, float("inf"), 0.0]):
        with pytest.raises(ValueError):
            index.add(2, bad)
    with pytest.raises(ValueError, match="dimension"):
        index.nearest([1.0, 2.0], upto=5)
    with pytest.raises(ValueError):
        index.add(2, [])
    assert len(index) == 1 and 2 not in index


def test_the_index_grows_past_several_doublings_keeping_every_row():
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(1000, 8)).astype(np.float32)
    index = EmbeddingIndex()
    for design_id, row in enumerate(matrix, start=1):
        index.add(design_id, row)
    assert len(index) == 1000
    for design_id in (1, 16, 17, 500, 1000):
        assert index.nearest(matrix[design_id - 1], upto=1000, k=1) == [(design_id, 1.0)]


def test_threads_adding_and_querying_at_once_lose_nothing():
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(2000, 16))
    index = EmbeddingIndex()
    errors: list[BaseException] = []

    def worker(first: int) -> None:
        try:
            for design_id in range(first, 2001, 4):
                index.add(design_id, matrix[design_id - 1])
                index.nearest(matrix[design_id - 1], upto=design_id, k=3)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(first,)) for first in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(index) == 2000
    want = brute_force(matrix, range(1, 2001), matrix[41], upto=2000, k=4)
    assert [d for d, _ in index.nearest(matrix[41], upto=2000, k=4)] == [d for d, _ in want]


def test_a_vector_goes_through_a_blob_unchanged_as_float32():
    vector = np.array([0.1, -2.5, 3e-8, 1e6], dtype=np.float64)
    blob = to_blob(vector)
    assert len(blob) == 16 and blob == struct.pack("<4f", *vector)
    back = from_blob(blob)
    assert back.dtype == np.float32 and np.array_equal(back, vector.astype(np.float32))
    back[0] = 7.0  # a copy, writable, not a view of the bytes
    with pytest.raises(ValueError):
        from_blob(b"abc")


# --- the judge's reply ---------------------------------------------------------------------

DESIGN_BY_MISTAKE = """NAME: Best fit decreasing
THOUGHT: This is new because it sorts first.
```python
def solve(items):
    # not novel at all, just sorting
    return sorted(items)
```"""

REPLIES = [
    # (the reply, novel, words its reason must contain)
    ("NOT NOVEL\nIt only renames the variables of #4.", False, "renames"),
    ("NOVEL\nIt replaces greedy packing with dynamic programming.", True, "dynamic programming"),
    ("**Verdict:** Not novel — same greedy first-fit as #7 with a new constant.", False, "greedy"),
    ("Verdict: NOVEL.", True, ""),
    ("## Verdict\n**NOT NOVEL**\n\nSame algorithm as design #3.", False, "Same algorithm"),
    ('{"novel": false, "reason": "Identical to #2 except for the learning rate."}', False, "#2"),
    (
        '```json\n{"is_novel": true, "reason": "Uses attention instead of convolutions."}\n```',
        True,
        "attention",
    ),
    (
        'Here is my judgement:\n{"verdict": "NOT_NOVEL", "explanation": "a reformatting"}',
        False,
        "reformatting",
    ),
    ("{'novel': True, 'reason': 'A new search strategy.'}", True, "search strategy"),
    ("No. This is essentially design #12 with a larger beam.", False, "#12"),
    ("Yes, it is meaningfully new: it learns the scoring function.", True, "scoring"),
    ("The proposal is not meaningfully different from #4; it reorders two loops.", False, "#4"),
    (
        "I think this is novel because it uses a priority queue rather than sorting.",
        True,
        "priority queue",
    ),
    (
        "<think>Compare with #3... NOT NOVEL maybe? No, the structure differs.</think>\nNOVEL\n"
        "The structure differs.",
        True,
        "structure",
    ),
    ("<think>\nIt looks novel at first, but\n</think>\n\nNOT NOVEL. Same as #5.", False, "#5"),
    ("Okay, the user wants...</think>NOT NOVEL: same model.", False, "same model"),
    (
        "Not novel. The novelty claimed in the thought (a new schedule) is only a re-tuned decay.",
        False,
        "novelty claimed",
    ),
    ("NOT NOVEL — the 'novel' gating is the same as #9's.", False, "gating"),
    ("Answer: NOT NOVEL\nReason: It is a copy of #1 with comments.", False, "copy of #1"),
    ("Final answer: novel. The proposal introduces residual connections.", True, "residual"),
    ("This isn't novel: it just renames `best_fit` to `bf`.", False, "renames"),
    ("The design is too similar to #6 to be worth evaluating.", False, "#6"),
    (
        "Novelty assessment: the idea is genuinely new, replacing voting with debate.",
        True,
        "debate",
    ),
    ("- Verdict: NOVEL\n- Reason: a new structure", True, "new structure"),
    ("1. NOT NOVEL\n2. Same algorithm as #8.", False, "#8"),
    ("NOT NOVEL\n\nReason: it renames `solve`.", False, "it renames solve"),
    ("It is not a novel idea; #7 already sorts first.", False, "#7"),
    ("Nope, same thing.", False, "same thing"),
    ("", None, ""),
    ("   \n\n  ", None, ""),
    ("<think>I need to compare these carefully and", None, ""),
    (DESIGN_BY_MISTAKE, None, ""),
    ("import numpy as np\n\ndef solve(x):\n    return np.sort(x)  # is new\n", None, ""),
    ('def forward(self, task):\n    answer = "no"\n    return {"answer": "No"}\n', None, ""),
    ("NOT NOVEL: the same as #2.\n```python\ndef solve(x):\n    return x\n```", False, "#2"),
    ("Hard to say: the caching is new, but the loop is not new.", None, "caching"),
    ("The idea is interesting.", None, ""),
]


@pytest.mark.parametrize(("reply", "novel", "words"), REPLIES)
def test_a_judges_reply_is_read_as_models_write_it(reply, novel, words):
    judgement = parse_judgement(reply)
    assert judgement.novel is novel, judgement
    assert words in judgement.reason
    assert len(judgement.reason) <= 300


def test_a_long_reason_is_cut_to_two_sentences_and_300_characters():
    reply = "NOT NOVEL\n" + "It repeats #3. " + "Then " + "very " * 200 + "long. A third one."
    judgement = parse_judgement(reply)
    assert judgement == Judgement(False, judgement.reason)
    assert judgement.reason.startswith("It repeats #3. Then very")
    assert len(judgement.reason) <= 300 and "third" not in judgement.reason


def test_the_judgement_is_frozen():
    with pytest.raises(AttributeError):
        parse_judgement("NOVEL").novel = False  # type: ignore[misc]


# --- closeness by text ---------------------------------------------------------------------

GREEDY = """\
def solve(items, capacity):
    # first fit: put each item in the first bin it fits
    bins = []
    for item in items:
        for b in bins:
            if sum(b) + item <= capacity:
                b.append(item)
                break
        else:
            bins.append([item])
    return bins
"""
DP = """\
import functools

def solve(items, capacity):
    @functools.lru_cache(maxsize=None)
    def best(mask):
        return min(partition(mask))
    return best((1 << len(items)) - 1)
"""


def test_text_closeness_ranks_a_copy_first_and_ignores_comments_and_blank_lines():
    commented = GREEDY.replace("    bins = []", "\n\n    # the bins\n    bins = []  # empty\n")
    renamed = GREEDY.replace("bins", "boxes")
    got = closest_by_text(GREEDY, [(5, DP), (3, renamed), (2, commented)], k=3)
    assert [d for d, _ in got] == [2, 3, 5]
    assert got[0] == (2, 1.0)
    assert 0.8 < got[1][1] < 1.0 and got[2][1] < 0.5
    assert all(s == round(s, 6) for _, s in got)


def test_text_closeness_breaks_ties_by_id_and_honours_k():
    got = closest_by_text(GREEDY, [(9, GREEDY), (4, GREEDY), (6, DP), (7, GREEDY)], k=2)
    assert got == [(4, 1.0), (7, 1.0)]
    assert closest_by_text(GREEDY, [], k=3) == [] and closest_by_text(GREEDY, [(1, DP)], k=0) == []


def test_text_closeness_reads_broken_code_and_cuts_huge_code():
    broken = GREEDY + "    if (\n"  # does not tokenize
    got = closest_by_text(GREEDY, [(1, broken), (3, DP)], k=2)
    assert [d for d, _ in got] == [1, 3] and got[0][1] > 0.95
    huge = GREEDY + "x = 1\n" * 200_000  # only its first 6,000 characters count
    assert closest_by_text(huge, [(1, huge)], k=1) == [(1, 1.0)]
    cut = closest_by_text(GREEDY, [(2, huge[:7000])], k=1)
    assert closest_by_text(GREEDY, [(2, huge)], k=1) == cut and cut[0][1] < 0.5


def test_text_closeness_is_the_full_ratio_whatever_the_pruning():
    rng = np.random.default_rng(3)
    words = ["x", "y", "for", "in", "range", "(", ")", ":", "+", "=", "if", "return", "1", "2"]
    codes = [(i, " ".join(rng.choice(words, size=60))) for i in range(1, 41)]
    query = codes[0][1]
    import difflib

    from agentic_design.learning.novelty import _tokens

    def ratio(code):
        return round(difflib.SequenceMatcher(None, _tokens(code), _tokens(query), False).ratio(), 6)

    want = sorted(((i, ratio(c)) for i, c in codes), key=lambda item: (-item[1], item[0]))[:5]
    assert closest_by_text(query, codes, k=5) == want


# --- the prompts ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["new", "mutate", "crossover"])
def test_the_judge_prompt_shows_the_proposal_and_the_closest_designs(mode):
    text = render(
        "meta/novelty_judge.j2",
        task_description="Pack items into as few bins as possible.",
        proposal={"name": "First fit", "thought": "Sort, then first fit.", "code": GREEDY},
        closest=[
            {
                "id": 4,
                "name": "Greedy",
                "summary": "fitness 0.91",
                "similarity": 0.9712,
                "code": GREEDY,
            },
            {"id": 7, "name": "DP", "summary": "error", "similarity": None, "code": DP},
        ],
        mode=mode,
    )
    assert text.startswith("Pack items")
    assert "#4 Greedy — fitness 0.91 (similarity 0.97)" in text
    assert "#7 DP — error\n" in text and "lru_cache" in text
    assert "NOVEL or NOT NOVEL" in text and "re-tuning a constant" in text
    assert ("parent" in text) == (mode != "new")


def test_the_judge_prompt_names_every_variable_it_needs():
    with pytest.raises(jinja2.UndefinedError):
        render("meta/novelty_judge.j2", task_description="t", closest=[], mode="new")


@pytest.mark.parametrize(
    ("similarity", "reason", "structured", "edits"),
    [
        (0.9712, "It only renames the loops.", False, False),
        (None, "", True, False),
        (0.95, "", False, True),
    ],
)
def test_the_retry_message_sends_the_proposal_back_in_the_same_answer_format(
    similarity, reason, structured, edits
):
    text = render(
        "meta/novelty_retry.j2",
        closest={"id": 12, "name": "Greedy", "similarity": similarity},
        reason=reason,
        structured=structured,
        edits=edits,
        interface=["solve"],
    )
    assert "too close to design #12 Greedy" in text
    assert ("(similarity 0.97)" in text) == (similarity == 0.9712)
    assert ("similarity" in text) == (similarity is not None)
    assert ("Why:" in text) == bool(reason)
    assert f"Why: {reason}" in text or not reason
    assert "meaningfully different idea" in text
    if structured:
        assert "response schema" in text
    elif edits:
        assert "SEARCH/REPLACE" in text
    else:
        assert "NAME:" in text and "defining solve" in text


def test_the_retry_message_names_every_variable_it_needs():
    with pytest.raises(jinja2.UndefinedError):
        render(
            "meta/novelty_retry.j2", closest={"id": 1, "name": "x", "similarity": None}, reason=""
        )


# --- the test server's embeddings, through litellm ------------------------------------------


def _litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def cosine(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_the_hashed_embedding_is_deterministic_and_sees_code_that_differs_by_a_line():
    assert hashed_embedding(GREEDY) == hashed_embedding(GREEDY) and len(hashed_embedding("x")) == 64
    assert len(hashed_embedding("x", dim=16)) == 16 and any(hashed_embedding(""))
    one_line = GREEDY.replace("    return bins\n", "    bins.sort()\n    return bins\n")
    assert cosine(hashed_embedding(GREEDY), hashed_embedding(one_line)) > 0.97
    assert cosine(hashed_embedding(GREEDY), hashed_embedding(DP)) < 0.8


def test_litellm_gets_the_servers_embeddings_as_the_openai_protocol_has_them():
    litellm = _litellm()
    with ScriptedLLM(answer=lambda request: "NOVEL") as server:
        response = litellm.embedding(
            model="openai/test-embed", input=[GREEDY, DP], api_base=server.url, api_key="none"
        )
        assert [item["embedding"] for item in response.data] == [
            hashed_embedding(GREEDY),
            hashed_embedding(DP),
        ]
        assert [item["index"] for item in response.data] == [0, 1]
        assert response.usage.prompt_tokens >= 1
        # litellm sends the input as given, and no encoding_format unless asked
        assert server.embedding_requests == [{"model": "test-embed", "input": [GREEDY, DP]}]
        single = litellm.embedding(
            model="openai/test-embed", input="x = 1", api_base=server.url, api_key="none"
        )
        assert single.data[0]["embedding"] == hashed_embedding("x = 1")
        assert server.embedding_requests[-1]["input"] == "x = 1"
        # chat completions still answer as before, and every request is kept in order
        chat = litellm.completion(
            model="openai/scripted",
            messages=[{"role": "user", "content": "judge"}],
            api_base=server.url,
            api_key="none",
        )
        assert chat.choices[0].message.content == "NOVEL"
        assert len(server.requests) == 3 and len(server.embedding_requests) == 2


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")  # litellm types it as floats
def test_base64_embeddings_are_little_endian_float32():
    litellm = _litellm()
    with ScriptedLLM(embed=lambda text: [1.5, -2.0, 0.25]) as server:
        response = litellm.embedding(
            model="openai/test-embed",
            input=["a"],
            api_base=server.url,
            api_key="none",
            encoding_format="base64",
        )
        assert server.embedding_requests[-1]["encoding_format"] == "base64"
        raw = base64.b64decode(response.data[0]["embedding"])  # litellm passes it on as is
        assert list(from_blob(raw)) == [1.5, -2.0, 0.25]


def test_embedding_requests_take_their_turn_in_the_fault_queue():
    litellm = _litellm()
    with ScriptedLLM(embed=lambda text: [1.0, 0.0]) as server:
        # The openai client under litellm retries a 5xx twice itself, whatever max_retries says.
        server.queue(Fault.server_error(), Fault.server_error(), Fault.server_error())
        with pytest.raises(litellm.InternalServerError):
            litellm.embedding(
                model="openai/test-embed",
                input=["a"],
                api_base=server.url,
                api_key="none",
                max_retries=0,
                num_retries=0,
            )
        assert server.faults_served == ["server_error"] * 3
        assert len(server.embedding_requests) == 3
        server.queue(Fault.rate_limit(retry_after=0.01))
        response = litellm.embedding(
            model="openai/test-embed", input=["a"], api_base=server.url, api_key="none"
        )
        assert response.data[0]["embedding"] == [1.0, 0.0]
        assert server.faults_served[-1] == "rate_limit" and len(server.embedding_requests) == 5
