"""The meta-agent's answers, in the shapes real models write them.

Each case is an answer written the way some public model answers (JSON with broken escapes,
markdown sections, a reasoning preamble, drafts and final versions, SEARCH/REPLACE edits...)
and the exact design `parse_answer` must read from it, or the exact problem it must report.
"""

from __future__ import annotations

import re

import pytest

from agentic_design.proposers.answers import UNTITLED, Answer, MalformedAnswer, parse_answer
from agentic_design.proposers.edits import unified_diff

BINPACK = ("priority",)
TORCH = ("build_model",)

FIT = "def priority(item, bins):\n    return -(bins - item)\n"
NUMPY_FIT = (
    "import numpy as np\n"
    "\n"
    "\n"
    "def priority(item, bins):\n"
    "    slack = bins - item\n"
    "    return np.where(slack >= 0, -slack, -np.inf)\n"
)
PARENT = (
    "import numpy as np\n"
    "\n"
    "\n"
    "def priority(item, bins):\n"
    '    """Best fit."""\n'
    "    slack = bins - item\n"
    "    score = -slack\n"
    "    return score\n"
)


def design(name: str, thought: str, code: str, form: str, diff: str | None = None) -> Answer:
    return Answer(name=name, thought=thought, code=code, form=form, diff=diff)


# -- answers that hold a design ------------------------------------------------------------------

GOOD: list[tuple[str, str, dict, Answer]] = []


def good(case_id: str, text: str, expected: Answer, **kwargs: object) -> None:
    GOOD.append((case_id, text, kwargs, expected))


# JSON, the way structured-output and JSON-mode models write it.

good(
    "json-clean",
    '{"thought": "Prefer the bin the item fills best.", "name": "best_fit", '
    '"code": "def priority(item, bins):\\n    return -(bins - item)\\n"}',
    design("best_fit", "Prefer the bin the item fills best.", FIT, "json code"),
    interface=BINPACK,
)

good(
    "json-literal-newlines-and-tabs",
    '{\n  "thought": "Best fit,\n\twritten with tabs.",\n  "name": "tabbed_fit",\n'
    '  "code": "def priority(item, bins):\n\tslack = bins - item\n\treturn -slack\n"\n}',
    design(
        "tabbed_fit",
        "Best fit,\n\twritten with tabs.",
        "def priority(item, bins):\n\tslack = bins - item\n\treturn -slack\n",
        "json code",
    ),
    interface=BINPACK,
)

good(
    "json-invalid-regex-escapes",
    r'{"thought": "Read the size out of a label like \"item 12\".", "name": "regex_size", '
    r'"code": "import re\n\n\ndef size(label):\n    return int(re.search(r\"\d+\s*$\", label)[0])'
    r'\n\n\ndef priority(item, bins):\n    return -(bins - item)\n"}',
    design(
        "regex_size",
        'Read the size out of a label like "item 12".',
        "import re\n\n\ndef size(label):\n"
        '    return int(re.search(r"\\d+\\s*$", label)[0])\n\n\n' + FIT,
        "json code",
    ),
    interface=BINPACK,
)

good(
    "json-in-json-fence",
    "```json\n"
    "{\n"
    '  "thought": "Worst fit spreads items out.",\n'
    '  "name": "worst_fit",\n'
    '  "code": "def priority(item, bins):\\n    return bins - item\\n"\n'
    "}\n"
    "```",
    design(
        "worst_fit",
        "Worst fit spreads items out.",
        "def priority(item, bins):\n    return bins - item\n",
        "json code",
    ),
    interface=BINPACK,
)

good(
    "json-after-prose",
    "Sure! Here's a design that builds on the best-fit heuristic:\n\n"
    '{"thought": "Best fit.", "name": "best_fit_v2", '
    '"code": "def priority(item, bins):\\n    return -(bins - item)\\n"}',
    design("best_fit_v2", "Best fit.", FIT, "json code"),
    interface=BINPACK,
)

good(
    "json-then-chatter-with-braces",
    '{"thought": "Best fit.", "name": "best_fit", '
    '"code": "def priority(item, bins):\\n    return -(bins - item)\\n"}\n\n'
    "This should beat first fit because it leaves less slack. If you want, I can also try "
    'a variant that scores {"slack": ..., "fill": ...} jointly.',
    design("best_fit", "Best fit.", FIT, "json code"),
    interface=BINPACK,
)

good(
    "json-capitalised-keys",
    '{"Thought": "Best fit.", "Name": "BestFit", '
    '"Code": "def priority(item, bins):\\n    return -(bins - item)\\n"}',
    design("BestFit", "Best fit.", FIT, "json code"),
    interface=BINPACK,
)

good(
    "json-synonym-keys",
    '{"reasoning": "Squared slack punishes big gaps.", "title": "squared_slack", '
    '"code": "def priority(item, bins):\\n    return -(bins - item) ** 2\\n"}',
    design(
        "squared_slack",
        "Squared slack punishes big gaps.",
        "def priority(item, bins):\n    return -(bins - item) ** 2\n",
        "json code",
    ),
    interface=BINPACK,
)

good(
    "json-code-as-list-of-lines",
    "{\n"
    '  "thought": "Best fit.",\n'
    '  "name": "best_fit_lines",\n'
    '  "code": [\n'
    '    "def priority(item, bins):",\n'
    '    "    return -(bins - item)"\n'
    "  ]\n"
    "}",
    design("best_fit_lines", "Best fit.", FIT, "json code"),
    interface=BINPACK,
)

good(
    "json-code-wrapped-in-python-fence",
    '{"thought": "Best fit.", "name": "fenced_inside", '
    '"code": "```python\\ndef priority(item, bins):\\n    return -(bins - item)\\n```"}',
    design("fenced_inside", "Best fit.", FIT, "json code"),
    interface=BINPACK,
)

good(
    "json-nested-under-design-key",
    '{"design": {"name": "nested", "thought": "Best fit.", '
    '"code": "def priority(item, bins):\\n    return -(bins - item)\\n"}}',
    design("nested", "Best fit.", FIT, "json code"),
    interface=BINPACK,
)

good(
    "json-trailing-comma",
    "{\n"
    '  "thought": "Best fit.",\n'
    '  "name": "trailing_comma",\n'
    '  "code": "def priority(item, bins):\\n    return -(bins - item)\\n",\n'
    "}",
    design("trailing_comma", "Best fit.", FIT, "json code"),
    interface=BINPACK,
)

good(
    "json-in-python-labelled-fence-with-trailing-comma",
    "Here is my answer in the requested format:\n\n```python\n"
    '{\n  "thought": "Best fit.",\n  "name": "mislabelled_json",\n'
    '  "code": "def priority(item, bins):\\n    return -(bins - item)\\n",\n}\n```',
    design("mislabelled_json", "Best fit.", FIT, "json code"),
    interface=BINPACK,
)

good(
    "half-json-in-prose-does-not-hide-the-fence",
    'I will not answer as {"name": ..., "code": "...} this time; NAME and THOUGHT instead.\n\n'
    f"NAME: prose_then_fence\nTHOUGHT: Best fit.\n\n```python\n{FIT}```",
    design("prose_then_fence", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

good(
    "json-escaped-single-quotes",
    r"""{"thought": "Scale by the bin's fill.", "name": "quoted_keys", """
    r""""code": "def priority(item, bins, weights={\'slack\': 1.0}):\n"""
    r"""    return -(bins - item) * weights[\'slack\']\n"}""",
    design(
        "quoted_keys",
        "Scale by the bin's fill.",
        "def priority(item, bins, weights={'slack': 1.0}):\n"
        "    return -(bins - item) * weights['slack']\n",
        "json code",
    ),
    interface=BINPACK,
)

CONFIG_CODE = (
    'CONFIG = {"name": "not_the_name", "thought": "not the thought", "code": "x = 1"}\n'
    "\n"
    "\n"
    "def priority(item, bins):\n"
    '    return -(bins - item) * CONFIG.get("scale", 1)\n'
)

good(
    "dict-literal-in-fenced-code-is-not-metadata",
    "NAME: scaled_fit\nTHOUGHT: Best fit, scaled by a configuration table.\n\n"
    f"```python\n{CONFIG_CODE}```\n",
    design("scaled_fit", "Best fit, scaled by a configuration table.", CONFIG_CODE, "fence"),
    interface=BINPACK,
)

good(
    "dict-literal-in-bare-code-is-not-metadata",
    CONFIG_CODE,
    design(UNTITLED, "", CONFIG_CODE, "bare code"),
    interface=BINPACK,
)

good(
    "dict-literal-in-unclosed-fence-is-not-metadata",
    f"NAME: scaled_open\nTHOUGHT: Best fit, scaled.\n\n```python\n{CONFIG_CODE}",
    design("scaled_open", "Best fit, scaled.", CONFIG_CODE, "unclosed fence"),
    interface=BINPACK,
)

# Markdown and labelled headers, the way chat models write when asked for prose and a block.

good(
    "markdown-sections",
    "### Thought\n"
    "Best fit leaves the least slack, so bins fill up before new ones open.\n\n"
    "### Name\n"
    "best_fit_np\n\n"
    "### Code\n"
    f"```python\n{NUMPY_FIT}```\n",
    design(
        "best_fit_np",
        "Best fit leaves the least slack, so bins fill up before new ones open.",
        NUMPY_FIT,
        "fence",
    ),
    interface=BINPACK,
)

good(
    "bold-labels",
    "**Name:** best_fit_np\n\n"
    "**Thought:** Infeasible bins get -inf so they are never chosen.\n\n"
    f"```python\n{NUMPY_FIT}```\n\n"
    "Let me know if you'd like me to tune it further.",
    design("best_fit_np", "Infeasible bins get -inf so they are never chosen.", NUMPY_FIT, "fence"),
    interface=BINPACK,
)

good(
    "requested-header-multiline-thought",
    "NAME: gap_aware_fit\n"
    "THOUGHT: Score bins by the slack left after placing the item.\n"
    "Bins that cannot take the item get -inf.\n"
    "\n"
    "Ties go to the earlier bin, as argmax does.\n"
    f"```python\n{NUMPY_FIT}```",
    design(
        "gap_aware_fit",
        "Score bins by the slack left after placing the item.\n"
        "Bins that cannot take the item get -inf.\n"
        "\n"
        "Ties go to the earlier bin, as argmax does.",
        NUMPY_FIT,
        "fence",
    ),
    interface=BINPACK,
)

good(
    "lead-in-line-and-explanation-after-the-code",
    "I'll refine the parent by ruling out bins that cannot hold the item.\n\n"
    "NAME: guarded_fit\n"
    "THOUGHT: Best fit, but bins too small for the item must never win.\n"
    "- Idea: give them -inf rather than a large negative number.\n\n"
    "Here's the implementation:\n\n"
    f"```python\n{NUMPY_FIT}```\n\n"
    "**Explanation:**\n- `slack` is the room left after placing the item.\n",
    design(
        "guarded_fit",
        "Best fit, but bins too small for the item must never win.\n"
        "- Idea: give them -inf rather than a large negative number.",
        NUMPY_FIT,
        "fence",
    ),
    interface=BINPACK,
)

good(
    "headings-with-inline-values",
    f"## Name: heading_fit\n## Thought: Best fit with numpy.\n\n```python\n{NUMPY_FIT}```",
    design("heading_fit", "Best fit with numpy.", NUMPY_FIT, "fence"),
    interface=BINPACK,
)

good(
    "bullet-list-labels",
    "Here is my proposal:\n\n"
    "- **Name**: bullet_fit\n"
    "- **Thought**: Best fit, with -inf for bins that are too small.\n\n"
    f"```python\n{NUMPY_FIT}```",
    design("bullet_fit", "Best fit, with -inf for bins that are too small.", NUMPY_FIT, "fence"),
    interface=BINPACK,
)

good(
    "name-in-backticks",
    f"Name: `tick_fit`\nThought: Best fit.\n\n```python\n{FIT}```",
    design("tick_fit", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

good(
    "name-in-backticks-with-description",
    f"**Name:** `decayed_fit` — best fit with a decay on fuller bins\n"
    f"**Thought:** Best fit.\n\n```python\n{FIT}```",
    design("decayed_fit", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

good(
    "name-in-quotes",
    f'**Name**: "quoted_fit"\n**Thought**: Best fit.\n\n```python\n{FIT}```',
    design("quoted_fit", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

good(
    "label-on-its-own-line",
    f"**Name**\nown_line_fit\n\n**Thought**\nBest fit.\n\n```python\n{FIT}```",
    design("own_line_fit", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

# Metadata and code apart.

good(
    "json-metadata-then-python-fence",
    '```json\n{"thought": "Best fit with numpy.", "name": "split_fit"}\n```\n\n'
    f"```python\n{NUMPY_FIT}```",
    design("split_fit", "Best fit with numpy.", NUMPY_FIT, "fence"),
    interface=BINPACK,
)

good(
    "bare-json-metadata-then-python-fence",
    f'{{"thought": "Best fit with numpy.", "name": "split_fit"}}\n\n```python\n{NUMPY_FIT}```',
    design("split_fit", "Best fit with numpy.", NUMPY_FIT, "fence"),
    interface=BINPACK,
)

good(
    "unlabelled-fences-metadata-and-code",
    '```\n{"thought": "Best fit with numpy.", "name": "plain_fences"}\n```\n\n'
    f"```\n{NUMPY_FIT}```",
    design("plain_fences", "Best fit with numpy.", NUMPY_FIT, "fence"),
    interface=BINPACK,
)

good(
    "unlabelled-fence-metadata-with-invalid-escape",
    '```\n{"thought": "Match sizes with \\d+ first.", "name": "escaped_meta",}\n```\n\n'
    f"```\n{NUMPY_FIT}```",
    design("escaped_meta", "Match sizes with \\d+ first.", NUMPY_FIT, "fence"),
    interface=BINPACK,
)

# Reasoning preambles (DeepSeek-R1, QwQ, Claude with extended thinking...).

_DRAFTS = (
    'Let me think. The answer format is {"thought": ..., "name": ..., "code": ...}.\n'
    'Maybe {"name": "draft", "thought": "no", "code": "def priority(item, bins): return 0"}\n'
    "A first draft:\n```python\ndef priority(item, bins):\n    return 0\n```\n"
    "Hmm, sets like {1, 2} and dicts {k: v for k, v in x} don't matter here. "
)
LONG_THINKING = _DRAFTS * 40

good(
    "long-think-full-of-braces-and-fences",
    f"<think>\n{LONG_THINKING}\n</think>\n\n"
    '{"thought": "Best fit.", "name": "after_thinking", '
    '"code": "def priority(item, bins):\\n    return -(bins - item)\\n"}',
    design("after_thinking", "Best fit.", FIT, "json code"),
    interface=BINPACK,
)

good(
    "thinking-tags-then-markdown",
    f"<thinking>\nThe parent uses first fit {{}}; I'll switch to best fit.\n</thinking>\n\n"
    f"**Name:** thinking_fit\n**Thought:** Best fit.\n\n```python\n{FIT}```",
    design("thinking_fit", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

good(
    "closing-think-tag-only",
    f"{LONG_THINKING}\n</think>\n\nNAME: stripped_open\nTHOUGHT: Best fit.\n\n```python\n{FIT}```",
    design("stripped_open", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

# Several code blocks.

good(
    "draft-then-final",
    "NAME: fixed_fit\nTHOUGHT: Best fit, guarding against bins that are too small.\n\n"
    "A first attempt:\n"
    "```python\ndef priority(item, bins):\n    return -(bins - item)\n```\n\n"
    "Wait, that scores bins that cannot hold the item. Here is the corrected version:\n\n"
    f"```python\n{NUMPY_FIT}```",
    design(
        "fixed_fit",
        "Best fit, guarding against bins that are too small.",
        NUMPY_FIT,
        "fence",
    ),
    interface=BINPACK,
)

good(
    "imports-fence-then-code-fence",
    "NAME: imports_apart\nTHOUGHT: Best fit with numpy.\n\n"
    "```python\nimport numpy as np\n```\n\n"
    "```python\ndef priority(item, bins):\n"
    "    slack = bins - item\n"
    "    return np.where(slack >= 0, -slack, -np.inf)\n```",
    design(
        "imports_apart",
        "Best fit with numpy.",
        "import numpy as np\n\n\ndef priority(item, bins):\n"
        "    slack = bins - item\n"
        "    return np.where(slack >= 0, -slack, -np.inf)\n",
        "fence",
    ),
    interface=BINPACK,
)

good(
    "trailing-usage-example",
    f"NAME: with_example\nTHOUGHT: Best fit with numpy.\n\n```python\n{NUMPY_FIT}```\n\n"
    "Example usage:\n\n"
    "```python\nimport numpy as np\nprint(priority(3, np.array([4, 5, 9])))\n```",
    design("with_example", "Best fit with numpy.", NUMPY_FIT, "fence"),
    interface=BINPACK,
)

good(
    "tilde-fences",
    f"NAME: tilde_fit\nTHOUGHT: Best fit.\n\n~~~python\n{FIT}~~~\n",
    design("tilde_fit", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

good(
    "py-label",
    f"NAME: py_fit\nTHOUGHT: Best fit.\n\n```py\n{FIT}```",
    design("py_fit", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

good(
    "python3-label-and-capitalised",
    "NAME: py3_fit\nTHOUGHT: Best fit.\n\n```Python3\n" + FIT + "```",
    design("py3_fit", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

DOCSTRING_FENCE = (
    "def priority(item, bins):\n"
    '    """Best fit.\n'
    "\n"
    "    ```\n"
    "    priority(3, bins)\n"
    "    ```\n"
    '    """\n'
    "    return -(bins - item)\n"
)

good(
    "four-backtick-fence-holding-a-fence",
    f"NAME: four_ticks\nTHOUGHT: Best fit.\n\n````python\n{DOCSTRING_FENCE}````\n",
    design("four_ticks", "Best fit.", DOCSTRING_FENCE, "fence"),
    interface=BINPACK,
)

good(
    "indented-fence-in-a-list",
    "1. **Name**: indented_fit\n"
    "2. **Thought**: Best fit.\n"
    "3. **Code**:\n"
    "   ```python\n"
    "   def priority(item, bins):\n"
    "       return -(bins - item)\n"
    "   ```\n",
    design("indented_fit", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

good(
    "crlf-line-endings",
    ("NAME: crlf_fit\nTHOUGHT: Best fit.\n\n```python\n" + FIT + "```\n").replace("\n", "\r\n"),
    design("crlf_fit", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

TORCH_CODE = (
    "import torch.nn as nn\n"
    "\n"
    "\n"
    "def build_model(in_features, classes):\n"
    "    return nn.Sequential(nn.Linear(in_features, 64), nn.ReLU(), nn.Linear(64, classes))\n"
)

good(
    "torch-interface-among-helper-fences",
    "NAME: mlp64\nTHOUGHT: A small MLP.\n\n"
    "```python\nclass Block(nn.Module):\n    pass\n```\n\n"
    f"```python\n{TORCH_CODE}```\n\n"
    "```python\nmodel = build_model(64, 10)\n```",
    design("mlp64", "A small MLP.", TORCH_CODE, "fence"),
    interface=TORCH,
)

# No decoration, and answers cut short.

good(
    "bare-code",
    "\n" + NUMPY_FIT,
    design(UNTITLED, "", NUMPY_FIT, "bare code"),
    interface=BINPACK,
)

good(
    "unclosed-final-fence-that-parses",
    f"NAME: unclosed\nTHOUGHT: Best fit.\n\n```python\n{NUMPY_FIT}",
    design("unclosed", "Best fit.", NUMPY_FIT, "unclosed fence"),
    interface=BINPACK,
)

good(
    "closing-fence-glued-to-the-last-line",
    "NAME: glued\nTHOUGHT: Best fit.\n\n```python\ndef priority(item, bins):\n"
    "    return -(bins - item)```\n\nHope this helps!",
    design("glued", "Best fit.", FIT, "fence"),
    interface=BINPACK,
)

# SEARCH/REPLACE edits against the parent.

SQUARED = PARENT.replace("    score = -slack\n", "    score = -slack**2\n")
GUARDED = SQUARED.replace("    return score\n", "    return np.where(slack >= 0, score, -np.inf)\n")

good(
    "edit-one-block",
    "NAME: squared_slack\nTHOUGHT: Punish large gaps more.\n\n"
    "<<<<<<< SEARCH\n    score = -slack\n=======\n    score = -slack**2\n>>>>>>> REPLACE\n",
    design(
        "squared_slack", "Punish large gaps more.", SQUARED, "edits", unified_diff(PARENT, SQUARED)
    ),
    interface=BINPACK,
    parent=PARENT,
)

good(
    "edit-several-blocks-in-order",
    "NAME: guarded_squared\nTHOUGHT: Square the slack, then rule out bins that are too small.\n"
    "\n<<<<<<< SEARCH\n    score = -slack\n=======\n    score = -slack**2\n>>>>>>> REPLACE\n\n"
    "<<<<<<< SEARCH\n    score = -slack**2\n    return score\n=======\n"
    "    score = -slack**2\n    return np.where(slack >= 0, score, -np.inf)\n"
    ">>>>>>> REPLACE\n",
    design(
        "guarded_squared",
        "Square the slack, then rule out bins that are too small.",
        GUARDED,
        "edits",
        unified_diff(PARENT, GUARDED),
    ),
    interface=BINPACK,
    parent=PARENT,
)

good(
    "edit-blocks-in-python-fence",
    "**Name:** fenced_edit\n**Thought:** Punish large gaps more.\n\n```python\n"
    "<<<<<<< SEARCH\n    score = -slack\n=======\n    score = -slack**2\n>>>>>>> REPLACE\n"
    "```\n",
    design(
        "fenced_edit", "Punish large gaps more.", SQUARED, "edits", unified_diff(PARENT, SQUARED)
    ),
    interface=BINPACK,
    parent=PARENT,
)

good(
    "edit-blocks-in-diff-fence-with-filename",
    "NAME: diff_fenced\nTHOUGHT: Punish large gaps more.\n\ndesign.py\n```diff\n"
    "<<<<<<< SEARCH\n    score = -slack\n=======\n    score = -slack**2\n>>>>>>> REPLACE\n"
    "```\n",
    design(
        "diff_fenced", "Punish large gaps more.", SQUARED, "edits", unified_diff(PARENT, SQUARED)
    ),
    interface=BINPACK,
    parent=PARENT,
)

good(
    "edits-in-structured-json",
    '{"thought": "Punish large gaps more.", "name": "json_edit", "edits": '
    '[{"search": "    score = -slack\\n", "replace": "    score = -slack**2\\n"}]}',
    design("json_edit", "Punish large gaps more.", SQUARED, "edits", unified_diff(PARENT, SQUARED)),
    interface=BINPACK,
    parent=PARENT,
)

good(
    "full-module-with-parent-given",
    f"NAME: rewrite\nTHOUGHT: A full rewrite.\n\n```python\n{NUMPY_FIT}```",
    design("rewrite", "A full rewrite.", NUMPY_FIT, "fence"),
    interface=BINPACK,
    parent=PARENT,
)


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"), [c[1:] for c in GOOD], ids=[c[0] for c in GOOD]
)
def test_answer_yields_design(text: str, kwargs: dict, expected: Answer) -> None:
    assert parse_answer(text, **kwargs) == expected


def test_edit_diff_shows_the_changed_lines() -> None:
    text = "<<<<<<< SEARCH\n    score = -slack\n=======\n    score = -slack**2\n>>>>>>> REPLACE\n"
    answer = parse_answer(text, interface=BINPACK, parent=PARENT)
    assert answer.diff is not None
    assert answer.diff.startswith("--- parent\n+++ child\n@@ ")
    assert "\n-    score = -slack\n" in answer.diff
    assert "\n+    score = -slack**2\n" in answer.diff


# -- answers that do not -------------------------------------------------------------------------

BAD: list[tuple[str, str, dict, str]] = []


def bad(case_id: str, text: str, problem: str, **kwargs: object) -> None:
    BAD.append((case_id, text, kwargs, problem))


bad("empty", "", "the answer was empty")
bad("whitespace-only", "  \n\t\n  ", "the answer was empty")
bad(
    "prose-without-code",
    "I would use a best-fit heuristic: put each item in the bin with the least room left "
    "that can still hold it.",
    "no code was found: put the complete module in a ```python block",
    interface=BINPACK,
)
bad(
    "code-does-not-parse",
    "NAME: broken\nTHOUGHT: Best fit.\n\n```python\n"
    "def priority(item, bins):\n    return -(bins - item\n\n\nx = 1\n```",
    "the code does not parse: line 2: '(' was never closed",
    interface=BINPACK,
)
bad(
    "code-lacks-interface",
    "NAME: wrong_name\nTHOUGHT: Best fit.\n\n```python\n"
    "def score(item, bins):\n    return -(bins - item)\n```",
    "the code defines no priority (a design must define: priority)",
    interface=BINPACK,
)
bad(
    "unclosed-think-with-nothing-after",
    "<think>\nThe bins are a numpy array, so I can vectorise. Best fit means the smallest "
    "slack that is still non-negative, so",
    "the answer holds only reasoning (<think> ... </think>) and no design after it",
    interface=BINPACK,
)
bad(
    "unclosed-think-with-braces",
    "<think>\nThe answer is {thought, name, code}. Best fit means the smallest slack {s >= 0}, "
    "so the score is",
    "the reasoning (<think>) was never closed",
    interface=BINPACK,
)
bad(
    "unclosed-fence-cut-mid-expression",
    "NAME: cut\nTHOUGHT: Best fit.\n\n```python\nimport numpy as np\n\n\n"
    "def priority(item, bins):\n    slack = bins - item\n    return np.where(slack >= 0, -sl",
    "the ```python block is never closed and its code does not parse: the answer may have "
    "been cut off at max_tokens",
    interface=BINPACK,
)
bad(
    "json-cut-off-at-max-tokens",
    '{"thought": "Best fit with numpy.", "name": "cut_json", '
    '"code": "import numpy as np\\n\\n\\ndef priority(item, bins):\\n    slack = bins - it',
    "the JSON object is not closed: the answer may have been cut off at max_tokens",
    interface=BINPACK,
)
bad(
    "edit-search-does-not-match",
    "<<<<<<< SEARCH\n    score = -slack  \n=======\n    score = -slack**2\n>>>>>>> REPLACE\n",
    "edit 1 of 1: its SEARCH text does not occur in the parent exactly (copy the lines "
    "character for character, indentation included):\n<<<<<<< SEARCH\n    score = -slack  \n"
    "=======\n    score = -slack**2\n>>>>>>> REPLACE",
    interface=BINPACK,
    parent=PARENT,
)
bad(
    "edit-second-block-does-not-match",
    "<<<<<<< SEARCH\n    score = -slack\n=======\n    score = -slack**2\n>>>>>>> REPLACE\n"
    "<<<<<<< SEARCH\n    score = -slack\n=======\n    score = -slack**3\n>>>>>>> REPLACE\n",
    "edit 2 of 2: its SEARCH text does not occur in the parent exactly",
    interface=BINPACK,
    parent=PARENT,
)
TWO_SCORES = (
    "def fill(item, bins):\n"
    "    score = item / bins\n"
    "    return score\n"
    "\n"
    "\n"
    "def priority(item, bins):\n"
    "    score = -(bins - item)\n"
    "    return score\n"
)

bad(
    "edit-search-matches-twice",
    "<<<<<<< SEARCH\n    return score\n=======\n    return score * 2\n>>>>>>> REPLACE\n",
    "edit 1 of 1: its SEARCH text occurs 2 times in the parent; include more lines so that it "
    "matches one place:\n<<<<<<< SEARCH\n    return score\n",
    interface=BINPACK,
    parent=TWO_SCORES,
)
bad(
    "edit-empty-search",
    "<<<<<<< SEARCH\n=======\ndef helper():\n    pass\n>>>>>>> REPLACE\n",
    "edit 1 of 1 has an empty SEARCH part; quote the lines to replace",
    interface=BINPACK,
    parent=PARENT,
)
bad(
    "edit-unfinished-block",
    "<<<<<<< SEARCH\n    score = -slack\n=======\n    score = -slack**2\n>>>>>>> REPLACE\n"
    "<<<<<<< SEARCH\n    return score\n=======\n    return np.where(",
    "a SEARCH block is opened but not finished with ======= and >>>>>>> REPLACE (1 complete "
    "block(s) found; the answer may have been cut off)",
    interface=BINPACK,
    parent=PARENT,
)
bad(
    "edits-without-parent",
    "<<<<<<< SEARCH\n    score = -slack\n=======\n    score = -slack**2\n>>>>>>> REPLACE\n",
    "the answer holds SEARCH/REPLACE edits, but there is no parent design to apply them to",
    interface=BINPACK,
)
bad(
    "json-edits-not-objects",
    '{"thought": "x", "name": "y", "edits": ["    score = -slack", "    score = -slack**2"]}',
    'each of "edits" must be an object {"search": ..., "replace": ...}',
    interface=BINPACK,
    parent=PARENT,
)
bad(
    "edit-breaks-the-interface",
    "<<<<<<< SEARCH\ndef priority(item, bins):\n=======\ndef score(item, bins):\n>>>>>>> REPLACE\n",
    "the code defines no priority",
    interface=BINPACK,
    parent=PARENT,
)


@pytest.mark.parametrize(
    ("text", "kwargs", "problem"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_answer_reports_problem(text: str, kwargs: dict, problem: str) -> None:
    with pytest.raises(MalformedAnswer, match=re.escape(problem)):
        parse_answer(text, **kwargs)


def test_large_answer_full_of_braces() -> None:
    """200 KB of reasoning, fake JSON, dict literals and prose braces, then the design."""
    noise = (
        'The format is {"thought": ..., "name": ..., "code": ...}; sets {1, 2}, '
        '{"a": {"b": [1, {"c": 2}]}} and a half object {"name": "half", "code": "x\n'
    )
    big_dict = "TABLE = {\n" + "".join(f'    "k{i}": {{"v": {i}}},\n' for i in range(3000)) + "}\n"
    text = (
        f"<think>\n{LONG_THINKING * 10}\n</think>\n\n"
        + noise * 400
        + f"\n\nNAME: big_answer\nTHOUGHT: Best fit, with a lookup table.\n\n"
        f"```python\n{big_dict}\n\n{FIT}```\n"
    )
    assert len(text) > 200_000
    assert parse_answer(text, interface=BINPACK) == design(
        "big_answer", "Best fit, with a lookup table.", f"{big_dict}\n\n{FIT}", "fence"
    )
