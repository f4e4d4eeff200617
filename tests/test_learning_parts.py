"""The parts of insight notes and prompt variants that need no LLM: what the notes call reads,
replies read as real models write them, the templates, and the variants' credit."""

from __future__ import annotations

import json
import random

import pytest

from agentic_design.learning.notes import CUT_MARK, bounded, notes_material, parse_notes
from agentic_design.learning.variants import (
    DEFAULT_VARIANTS,
    VariantCredit,
    VariantStats,
    parse_variant,
)
from agentic_design.prompts import render
from agentic_design.proposers.model_choice import Improvements
from agentic_design.records import Design, Status, code_hash

PARENT_CODE = "def solve(x):\n    lr = 0.01\n    return x * lr\n"


def design(
    id: int,
    fitness: float | None = None,
    *,
    parents: tuple[int, ...] = (),
    status: Status | None = None,
    code: str | None = None,
    diff: str | None = None,
    error: str | None = None,
    variant: int | None = None,
    metrics: dict | None = None,
    thought: str = "an idea",
) -> Design:
    code = code if code is not None else f"def solve(x):\n    return x * {id}\n"
    if status is None:
        status = Status.OK if fitness is not None else Status.ERROR
    return Design(
        id=id,
        run="run",
        name=f"design {id}",
        thought=thought,
        code=code,
        code_hash=code_hash(code),
        status=status,
        parents=parents,
        diff=diff,
        error=error,
        fitness=fitness,
        summary=f"{id} layers" if fitness is not None else "",
        variant=variant,
        metrics=metrics or {},
    )


# -- notes_material -----------------------------------------------------------------------------


def test_material_tells_improvements_from_designs_that_did_not_improve():
    parent = design(1, 0.5, code=PARENT_CODE)
    child_code = PARENT_CODE.replace("0.01", "0.003")
    designs = [
        design(2, 0.6, parents=(1,), code=child_code),  # +0.1 over its parent
        design(3, 0.4, parents=(1,)),  # worse than its parent
        design(4, 0.65),  # no parent: +0.05 over the best before it (0.6, design 2)
        design(5, 0.55, parents=(1, 2)),  # crossover: measured against the better parent (0.6)
        design(6, 0.7, parents=(1, 2), diff="--- #2\n+++ child\n@@ -1 +1 @@\n-a\n+b\n"),
    ]
    material = notes_material(designs, {1: parent}, 0.5, "accuracy")
    improved = {d["id"]: d for d in material["improved"]}
    assert list(improved) == [2, 6, 4]  # largest gain first: 0.1, 0.1 (by id), 0.05
    assert improved[2]["parent_id"] == 1
    assert improved[2]["summary"] == "accuracy 0.6000, 2 layers"
    assert "#1 design 1: accuracy 0.5000" in improved[2]["parent_summary"]
    # The change is computed against the parent where the model did not answer with edits ...
    assert "-    lr = 0.01" in improved[2]["diff"] and "+    lr = 0.003" in improved[2]["diff"]
    assert improved[2]["diff"].startswith("--- #1\n")
    # ... and taken as recorded where it did.
    assert improved[6]["diff"].startswith("--- #2")
    assert improved[6]["parent_id"] == 2  # the better of its two parents
    assert improved[4]["parent_id"] is None and improved[4]["diff"] == ""
    assert improved[4]["parent_summary"] == (
        "the best design before it (accuracy 0.6000; it has no parent)"
    )
    assert material["unchanged"] == 2  # designs 3 and 5
    assert material["failed"] == [] and material["since"] == 5
    assert material["best"] == {"id": 6, "name": "design 6", "summary": "accuracy 0.7000, 6 layers"}
    assert material["improved_more"] == 0 and material["failed_more"] == 0


def test_the_first_designs_of_a_run_have_nothing_to_improve_on():
    material = notes_material([design(1, 0.5), design(2, 0.4)], {}, None, "score")
    assert material["improved"] == [] and material["unchanged"] == 2
    assert material["best"]["id"] == 1


def test_material_keeps_the_failures_newest_first_with_the_ends_of_their_errors():
    trace = "\n".join(
        ["Traceback (most recent call last):"]
        + [f'  File "design.py", line {i}, in f' for i in range(30)]
        + ["", "ValueError: shapes (3,) and (4,) do not line up"]
    )
    designs = [
        design(2, error=trace, status=Status.ERROR),
        design(3, status=Status.TIMEOUT, error="ran past 60 s"),
        design(4, status=Status.DUPLICATE),  # neither failed nor scored: not listed
        design(5, status=Status.NOT_NOVEL),
        design(6, status=Status.SCREENED_OUT),
        design(7, status=Status.INVALID, error=None, metrics={"stage": "proposal"}),
    ]
    material = notes_material(designs, {}, 0.5, "score")
    failed = material["failed"]
    assert [f["id"] for f in failed] == [7, 3, 2]
    assert failed[2]["error"] == (
        'Traceback (most recent call last): / File "design.py", line 29, in f / '
        "ValueError: shapes (3,) and (4,) do not line up"
    )
    assert failed[1] == {
        "id": 3,
        "name": "design 3",
        "status": "timeout",
        "thought": "an idea",
        "error": "ran past 60 s",
    }
    assert failed[0]["error"] == ""
    assert material["unchanged"] == 0 and material["best"] is None and material["since"] == 6


def test_material_is_bounded_and_says_how_much_was_left_out():
    parent = design(1, 0.1, code=PARENT_CODE)
    long_child = PARENT_CODE + "".join(f"# step {i}: {'x' * 60}\n" for i in range(100))
    designs = [design(i, 0.1 + i / 100, parents=(1,), code=long_child) for i in range(2, 12)]
    designs += [
        design(i, status=Status.ERROR, error="E" * 1000, thought="t" * 500) for i in range(12, 20)
    ]
    material = notes_material(
        designs, {1: parent}, 0.1, "score", limit=3, diff_chars=500, error_chars=100
    )
    assert [d["id"] for d in material["improved"]] == [11, 10, 9]  # the largest gains
    assert material["improved_more"] == 7
    assert [f["id"] for f in material["failed"]] == [19, 18, 17]
    assert material["failed_more"] == 5
    for entry in material["improved"]:
        assert len(entry["diff"]) <= 500
        assert entry["diff"].endswith("[... diff cut]\n")
        assert all(
            line.startswith(("---", "+++", "@@", " ", "+", "-", "["))
            for line in entry["diff"].splitlines()
        )
    for entry in material["failed"]:
        assert len(entry["error"]) <= 100 and len(entry["thought"]) == 300


def test_material_takes_parents_among_the_new_designs_and_parents_that_never_scored():
    broken = design(1, status=Status.ERROR, error="boom")
    designs = [
        design(2, 0.5, parents=(1,)),  # its parent failed: measured against the best before (0.4)
        design(3, 0.7, parents=(2,)),  # its parent is one of the new designs
    ]
    material = notes_material(designs, {1: broken}, 0.4, "score")
    improved = {d["id"]: d for d in material["improved"]}
    assert improved[3]["parent_id"] == 2 and improved[3]["gain"] == "+0.2000"
    assert improved[2]["gain"] == "+0.1000"
    assert improved[2]["parent_id"] == 1  # shown with the change from it all the same
    assert improved[2]["parent_summary"] == (
        "the best design before it (score 0.4000; its parent #1 design 1: error)"
    )
    assert improved[2]["diff"].startswith("--- #1")


# -- Improvements: the bandits' rule --------------------------------------------------------------


def _old_ucb1_rewards(designs: list[Design]) -> list[float]:
    """The rule as UCB1 had it before it moved into `Improvements`, kept here to compare."""
    fitness: dict[int, float] = {}
    best: float | None = None
    rewards = []
    for d in designs:
        if d.status is not Status.OK or d.fitness is None:
            rewards.append(0.0)
        else:
            ps = [fitness[p] for p in d.parents if p in fitness]
            baseline = max(ps) if ps else best
            rewards.append(max(0.0, d.fitness - baseline) if baseline is not None else 0.0)
        if d.status is Status.OK and d.fitness is not None:
            fitness[d.id] = d.fitness
            best = d.fitness if best is None else max(best, d.fitness)
    return rewards


def test_improvements_follow_the_bandit_rule_on_a_long_random_run():
    rng = random.Random(3)
    designs = []
    for i in range(1, 300):
        parents = tuple(sorted(rng.sample(range(1, i), min(i - 1, rng.choice([0, 1, 1, 2])))))
        ok = rng.random() < 0.7
        designs.append(design(i, rng.random() if ok else None, parents=parents))
    improvements = Improvements()
    rewards = [improvements.observe(d) for d in designs]
    assert rewards == _old_ucb1_rewards(designs)
    assert sum(r > 0 for r in rewards) > 30  # the run exercised the rule


def test_improvements_can_start_from_the_middle_of_a_run():
    improvements = Improvements(fitness={1: 0.5}, best=0.8)
    assert improvements.observe(design(10, 0.6, parents=(1,))) == pytest.approx(0.1)
    assert improvements.observe(design(11, 0.9)) == pytest.approx(0.1)  # over the best, 0.8
    assert improvements.observe(design(12, 0.95, parents=(7,))) == pytest.approx(0.05)


# -- parse_notes --------------------------------------------------------------------------------

NOTES = """## What helped
- Lowering the learning rate from 0.01 to 0.003 (+0.10 on #2).
- Batch norm after each conv layer.

## What hurt
- Widening past 512 units: timeouts.
- Reshaping without checking sizes: ValueError.

## Untried
- Cosine learning-rate schedule.
- Label smoothing."""

NOTES_CASES = {
    "as asked": NOTES,
    "after reasoning": "<think>The lr change helped... {maybe} ```python\nx=1\n```</think>\n\n"
    + NOTES,
    "after a preamble": "Here are the updated notes:\n\n" + NOTES,
    "after a bold preamble": "**Updated notes:**\n\n" + NOTES,
    "sure, here": "Sure! Here are the revised notes for the run.\n\n---\n" + NOTES,
    "in a markdown fence": "```markdown\n" + NOTES + "\n```",
    "in a text fence with chatter": "Here you go:\n```text\n"
    + NOTES
    + "\n```\nLet me know if you want changes.",
    "trailing chatter": NOTES + "\n\nLet me know if you'd like me to expand on any point!",
    "hope chatter": NOTES + "\n\n---\n\nI hope these notes help the next designs.",
    "reasoning, preamble, fence, chatter": (
        "<think>ok</think>Here are the notes:\n```md\n" + NOTES + "\n```\n\nFeel free to ask."
    ),
    "windows line ends": NOTES.replace("\n", "\r\n"),
    "labelled with a version": "Updated notes (v3):\n" + NOTES + "\n\n(Word count: 61)",
    "a closing fence without its opening": NOTES + "\n```",
    "reasoning whose opening tag the server dropped": "so the lr helped.</think>\n" + NOTES,
}


@pytest.mark.parametrize("case", sorted(NOTES_CASES))
def test_notes_are_read_out_of_what_models_write_around_them(case):
    assert parse_notes(NOTES_CASES[case], 2000) == NOTES


def test_notes_as_a_json_string_or_as_three_lists():
    assert parse_notes(json.dumps({"notes": NOTES}), 2000) == NOTES
    assert parse_notes("```json\n" + json.dumps({"Notes": NOTES}) + "\n```", 2000) == NOTES
    lists = {
        "helped": ["lr 0.003 (+0.10 on #2)", "batch norm"],
        "hurt": ["width > 512: timeouts"],
        "untried": ["cosine schedule", "label smoothing"],
    }
    expected = (
        "## What helped\n- lr 0.003 (+0.10 on #2)\n- batch norm\n\n"
        "## What hurt\n- width > 512: timeouts\n\n"
        "## Untried\n- cosine schedule\n- label smoothing"
    )
    assert parse_notes(json.dumps(lists), 2000) == expected
    # other spellings of the keys, items as objects, a section missing, in prose
    reply = "Here is the JSON:\n" + json.dumps(
        {
            "what_helped": [{"change": "lr 0.003", "why": "less divergence"}],
            "What Hurt": "- timeouts at width 1024\n- shape errors",
        }
    )
    assert parse_notes(reply, 2000) == (
        "## What helped\n- lr 0.003 — less divergence\n\n"
        "## What hurt\n- timeouts at width 1024\n- shape errors\n\n"
        "## Untried\n- (nothing yet)"
    )
    nested = {"notes": {"helped": ["a"], "hurt": ["b"], "untried": ["c"]}}
    assert parse_notes(json.dumps(nested), 2000) == (
        "## What helped\n- a\n\n## What hurt\n- b\n\n## Untried\n- c"
    )


def test_notes_that_start_like_chatter_are_kept_whole():
    notes = "Great gains came from the lower learning rate.\n- it halved the loss"
    assert parse_notes(notes, 2000) == notes
    assert parse_notes(json.dumps({"notes": ["lr 0.003", "batch norm"]}), 2000) == (
        "- lr 0.003\n- batch norm"
    )


def test_notes_keep_a_short_snippet_and_plain_prose_mentioning_code():
    with_snippet = NOTES.replace(
        "- Batch norm after each conv layer.",
        "- Batch norm after each conv layer:\n  ```\n  x = bn(conv(x))\n  ```",
    )
    assert parse_notes(with_snippet, 2000) == with_snippet
    prose = "## What helped\n- `from torch import nn` is enough; define build_model once."
    assert parse_notes(prose, 2000) == prose


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   \n\n ",
        "Let me know if you need anything else!",
        "Here are the updated notes:\n\n",
        "<think>The notes should say that the lr change helped, and",  # cut off while thinking
        "NAME: Wider MLP\nTHOUGHT: wider\n```python\ndef build_model(s, n):\n    return None\n```",
        "```python\nimport numpy as np\n\ndef solve(x):\n    return np.sort(x)\n```",
        "import numpy as np\n\ndef solve(x):\n    return np.sort(x)\n",
        json.dumps({"thought": "t", "name": "n", "code": "def solve(x):\n    return x\n"}),
        "---\n***\n",
    ],
)
def test_replies_without_notes_give_none(reply):
    assert parse_notes(reply, 2000) is None


def test_long_notes_are_cut_after_a_whole_line_with_a_mark():
    long = NOTES + "\n" + "\n".join(f"- idea number {i} worth a try" for i in range(200))
    notes = parse_notes(long, 600)
    assert notes is not None and len(notes) <= 600
    assert notes.endswith("\n" + CUT_MARK)
    kept = notes.splitlines()[:-1]
    assert all(line in long.splitlines() for line in kept)  # no line cut in the middle
    assert notes.startswith("## What helped")


def test_bounded_leaves_short_text_alone_and_cuts_one_long_line_at_a_word():
    assert bounded(NOTES, 2000) == NOTES
    assert bounded(NOTES, len(NOTES)) == NOTES
    cut = bounded("word " * 100, 60)
    assert len(cut) <= 60 and cut.endswith(CUT_MARK) and cut.splitlines()[0].endswith("word")
    assert bounded("x" * 100, 10) == CUT_MARK[:10]


# -- parse_variant ------------------------------------------------------------------------------

PARAGRAPH = (
    "Look for the one weakness the scores point to, and change it boldly: a different algorithm "
    "where tuning has stopped paying. Keep the parts that already work."
)

VARIANT_CASES = {
    "as asked": PARAGRAPH,
    "after reasoning": "<think>Variant 1 improved 3 of 9 designs, so {keep} it</think>\n"
    + PARAGRAPH,
    "after a preamble": "Here is the new variant:\n\n" + PARAGRAPH,
    "with a bold label": "**New instruction:** " + PARAGRAPH,
    "label on its own line": "New instruction:\n" + PARAGRAPH,
    "in quotes": f'"{PARAGRAPH}"',
    "in curly quotes after a preamble": f"Sure! Here's a variation:\n\n“{PARAGRAPH}”",
    "quoted in markdown": "> " + PARAGRAPH,
    "in a text fence": "```text\n" + PARAGRAPH + "\n```",
    "in a bare fence": "```\n" + PARAGRAPH + "\n```",
    "as JSON": json.dumps({"instruction": PARAGRAPH}),
    "as JSON variant": "```json\n" + json.dumps({"variant": PARAGRAPH}) + "\n```",
    "as nested JSON": json.dumps({"variant": {"id": 4, "text": PARAGRAPH}}),
    "with commentary after": PARAGRAPH
    + "\n\nThis variant encourages bolder changes while keeping what works.",
    "with chatter after": PARAGRAPH + "\n\nLet me know if you want a different angle.",
    "under a bold title": "**Variant: bold but grounded**\n\n" + PARAGRAPH,
    "under a heading": "### New instruction\n" + PARAGRAPH,
    "numbered label": "Variant 4: " + PARAGRAPH,
    "with a rationale after": (
        "<think>hmm</think>\n**Instruction:**\n> " + PARAGRAPH + "\n\n*Why:* it keeps focus."
    ),
    "a closing fence without its opening": PARAGRAPH + "\n```",
}


@pytest.mark.parametrize("case", sorted(VARIANT_CASES))
def test_a_variant_is_read_out_of_what_models_write_around_it(case):
    assert parse_variant(VARIANT_CASES[case]) == PARAGRAPH


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "Here is the new variant:",
        "<think>I would make it bolder, so",
        "```python\ndef solve(x):\n    return sorted(x)\n```",
        "NAME: sorted\nTHOUGHT: sort it\n```python\nimport math\n```",
        "x = 1\ny = x + 2",
        "def solve(x):\n    return x\n",
        "Be bold. " * 1000,  # not one paragraph: far over three times the limit
        '""',
    ],
)
def test_replies_without_an_instruction_give_none(reply):
    assert parse_variant(reply) is None


def test_an_instruction_that_reads_like_python_only_by_chance_is_kept(recwarn):
    assert parse_variant(r'"Simplicity."') == "Simplicity."
    assert parse_variant(r"Match \d+ digits with care, in any module.") is not None
    assert not [w for w in recwarn if issubclass(w.category, SyntaxWarning)]


def test_a_long_variant_is_cut_after_a_sentence():
    sentences = " ".join(f"Sentence {i} says one more thing about the design." for i in range(40))
    cut = parse_variant(sentences, limit=800)
    assert cut is not None and 700 < len(cut) <= 800
    assert cut.endswith("design.") and sentences.startswith(cut)
    words = "word " * 150
    cut = parse_variant(words, limit=300)
    assert cut is not None and len(cut) <= 300 and cut.endswith("word.")


def test_default_variants_are_short_task_agnostic_paragraphs():
    assert len(DEFAULT_VARIANTS) == 3 and len(set(DEFAULT_VARIANTS)) == 3
    for text in DEFAULT_VARIANTS:
        assert 100 < len(text) < 600
        assert parse_variant(text) == text  # they read as the instructions models are asked for
        assert not any(word in text.lower() for word in ("neural", "accuracy", "lr", "model "))


# -- VariantCredit --------------------------------------------------------------------------------


def run_with_variants() -> list[Design]:
    return [
        design(1, 0.5),  # a seed, no variant
        design(2, 0.6, parents=(1,), variant=1),  # +0.1
        design(3, 0.55, parents=(1,), variant=1),  # +0.05
        design(4, 0.4, parents=(1,), variant=2),  # worse
        design(5, status=Status.INVALID, metrics={"stage": "proposal"}, variant=2),  # unusable
        design(6, status=Status.NOT_NOVEL, variant=3),
        design(7, 0.8, variant=3),  # no parent: +0.2 over the best before (0.6)
        design(8, status=Status.ERROR, error="boom", variant=1),
    ]


def test_variants_are_credited_with_their_designs_improvements():
    credit = VariantCredit(seed=0)
    credit.observe(run_with_variants())
    stats = credit.stats()
    assert stats[1].proposals == 3 and stats[1].improvements == 2
    assert stats[1].reward == pytest.approx(0.15) and stats[1].mean == pytest.approx(0.05)
    assert stats[2] == VariantStats(proposals=2, improvements=0, reward=0.0)
    assert stats[3].proposals == 2 and stats[3].reward == pytest.approx(0.2)
    assert set(stats) == {1, 2, 3}
    assert VariantStats().mean == 0.0
    # Fed in two parts, the credit is the same.
    parts = VariantCredit(seed=0)
    parts.observe(run_with_variants()[:4])
    parts.observe(run_with_variants()[4:])
    assert parts.stats() == stats
    # stats() is a copy
    stats[1].proposals = 99
    assert credit.stats()[1].proposals == 3


def test_untried_variants_come_first_drawn_reproducibly():
    credit = VariantCredit(seed=5)
    credit.observe(run_with_variants())
    picks = [credit.choose([1, 2, 3, 4, 5], n) for n in range(100)]
    assert set(picks) == {4, 5}  # only the untried
    again = VariantCredit(seed=5)
    again.observe(run_with_variants())
    assert picks == [again.choose([1, 2, 3, 4, 5], n) for n in range(100)]
    assert picks == [VariantCredit(seed=5).choose([4, 5], n) for n in range(100)]
    assert picks != [VariantCredit(seed=6).choose([4, 5], n) for n in range(100)]
    assert credit.choose([5, 4, 3], 7) == credit.choose([3, 4, 5], 7)  # order of active aside


def test_once_all_are_tried_ucb1_favours_the_best_mean_and_still_explores():
    credit = VariantCredit(seed=1)
    credit.observe(run_with_variants())
    # means 0.05, 0, 0.1: scaled 0.5, 0, 1, each with its exploration bonus (n = 3, 2, 2)
    scores = credit.scores([1, 2, 3])
    assert scores[3] - scores[2] == pytest.approx(1.0)
    assert credit.choose([1, 2, 3], 0) == 3
    # Between 1 (mean 0.05, 3 tries) and 2 (mean 0, 2 tries): with no exploration the higher
    # mean wins; with much, the less tried.
    greedy = VariantCredit(seed=1, exploration=0.0)
    greedy.observe(run_with_variants())
    assert {greedy.choose([1, 2], n) for n in range(20)} == {1}
    curious = VariantCredit(seed=1, exploration=100.0)
    curious.observe(run_with_variants())
    assert {curious.choose([1, 2], n) for n in range(20)} == {2}


def test_ties_are_drawn_among_the_tied_and_no_reward_leaves_only_exploration():
    credit = VariantCredit(seed=2)
    credit.observe(
        [design(1, 0.5)] + [design(i, 0.4, parents=(1,), variant=1 + i % 2) for i in range(2, 8)]
    )
    scores = credit.scores([1, 2])  # no reward anywhere: the exploration terms, equal
    assert scores[1] == pytest.approx(scores[2])
    picks = {credit.choose([1, 2], n) for n in range(40)}
    assert picks == {1, 2}
    with pytest.raises(ValueError):
        credit.choose([], 0)


def test_best_and_worst():
    credit = VariantCredit(seed=0)
    assert credit.best([3, 2]) == 2  # none tried: the smallest id
    assert credit.worst([1, 2, 3]) is None
    credit.observe(run_with_variants())
    assert credit.best([1, 2, 3]) == 3
    assert credit.best([1, 2, 4]) == 1  # 4 untried is passed over
    assert credit.worst([1, 2, 3], min_proposals=2) == 2
    assert credit.worst([1, 2, 3], protect=[2], min_proposals=2) == 1
    assert credit.worst([1, 2, 3]) == 1  # the only one with 3 proposals, however good
    assert credit.worst([2, 3]) is None and credit.worst([1, 2, 3], protect=[1]) is None


def test_ties_keep_the_smaller_id_best_and_retire_the_larger():
    credit = VariantCredit(seed=0)
    credit.observe(
        [design(1, 0.5)] + [design(i, 0.6, parents=(1,), variant=1 + i % 3) for i in range(2, 11)]
    )
    assert credit.best([1, 2, 3]) == 1
    assert credit.worst([1, 2, 3]) == 3


# -- templates ----------------------------------------------------------------------------------


def test_the_notes_template_renders_empty_and_full_inputs():
    empty = notes_material([], {}, None, "score")
    text = render("meta/notes.j2", task_description="TASK", previous="", limit=1500, **empty)
    assert "There are no notes yet" in text and "- none" in text
    assert "1500 characters" in text and "What helped" in text and "Untried" in text
    parent = design(1, 0.5, code=PARENT_CODE)
    designs = [
        design(2, 0.6, parents=(1,), code=PARENT_CODE.replace("0.01", "0.003")),
        design(3, 0.4, parents=(1,)),
        design(4, status=Status.ERROR, error="ValueError: bad shape"),
    ] + [design(i, 0.1 + i, parents=(1,)) for i in range(5, 9)]
    full = notes_material(designs, {1: parent}, 0.5, "score", limit=4)
    text = render("meta/notes.j2", task_description="TASK", previous=NOTES, limit=1500, **full)
    assert "There are no notes yet" not in text
    assert "### #8 design 8 — score 8.1000, 8 layers (+7.6000 over #1 design 1" in text
    assert "+    return x * 8" in text and "ValueError: bad shape" in text
    assert "and 1 more with smaller gains" in text  # design 2's +0.1
    assert "Designs that scored without improving: 1." in text
    assert "The best of these 7 designs: #8 design 8" in text
    assert "## The notes so far\n````markdown\n" + NOTES + "\n````\n" in text


def test_the_variant_template_renders_with_and_without_others_and_notes():
    parent = {"id": 1, "text": DEFAULT_VARIANTS[0], "proposals": 0, "improvements": 0, "mean": 0.0}
    text = render(
        "meta/variant.j2", task_description="TASK", parent=parent, others=[], notes="", limit=900
    )
    assert DEFAULT_VARIANTS[0] in text and "900 characters" in text
    assert "No design has been written under it yet" in text
    others = [
        {"id": 2, "text": DEFAULT_VARIANTS[1], "proposals": 4, "improvements": 1, "mean": 0.025}
    ]
    tried = {**parent, "proposals": 6, "improvements": 2, "mean": 0.0123456}
    text = render(
        "meta/variant.j2", task_description="T", parent=tried, others=others, notes=NOTES, limit=900
    )
    assert "6, of which 2 improved" in text and "mean 0.01235" in text
    assert DEFAULT_VARIANTS[1] in text and NOTES in text


def test_the_templates_name_every_variable_they_need():
    with pytest.raises(Exception, match="undefined"):
        render("meta/notes.j2", task_description="T", previous="", limit=10)
    with pytest.raises(Exception, match="undefined"):
        render("meta/variant.j2", task_description="T", others=[], notes="", limit=10)
