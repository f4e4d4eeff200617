"""SEARCH/REPLACE edits: a model changes a long parent by quoting the lines to change.

    <<<<<<< SEARCH
    lines copied exactly from the parent
    =======
    the lines that take their place
    >>>>>>> REPLACE

Edits apply in order, each to the result of the ones before it, and exactly: a SEARCH text
must occur once, character for character, or the whole answer is refused with the block quoted,
so that the model can be asked again. Guessing at a near match would apply a change the model
did not write.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_BLOCK = re.compile(
    r"^[ \t]*<{5,9}[ \t]*SEARCH[^\n]*\n(?P<search>.*?)^[ \t]*={5,9}[ \t]*\n"
    r"(?P<replace>.*?)^[ \t]*>{5,9}[ \t]*REPLACE[^\n]*$",
    re.DOTALL | re.MULTILINE,
)
_OPENED = re.compile(r"^[ \t]*<{5,9}[ \t]*SEARCH", re.MULTILINE)


class EditError(ValueError):
    """Edits that cannot be applied to the parent; the message quotes the offending block."""


@dataclass(frozen=True)
class Edit:
    search: str
    replace: str

    def quoted(self, limit: int = 1200) -> str:
        text = f"<<<<<<< SEARCH\n{self.search}=======\n{self.replace}>>>>>>> REPLACE"
        return text if len(text) <= limit else text[:limit] + "\n[... cut]"


def find_edits(text: str) -> list[Edit]:
    """Every complete SEARCH/REPLACE block in `text`, in order; EditError for a block that is
    opened and never finished (an answer cut off at max_tokens, typically)."""
    edits = [Edit(m["search"], m["replace"]) for m in _BLOCK.finditer(text)]
    if len(_OPENED.findall(text)) > len(edits):
        raise EditError(
            f"a SEARCH block is opened but not finished with ======= and >>>>>>> REPLACE "
            f"({len(edits)} complete block(s) found; the answer may have been cut off)"
        )
    return edits


def without_edits(text: str, mark: str = "\n") -> str:
    """`text` with every SEARCH/REPLACE block replaced by `mark`."""
    return _BLOCK.sub(mark, text)


def apply_edits(parent: str, edits: list[Edit]) -> str:
    """The parent with every edit applied in order; EditError naming the block that fails."""
    code = parent if parent.endswith("\n") else parent + "\n"  # the last line can be quoted
    for number, edit in enumerate(edits, 1):
        where = f"edit {number} of {len(edits)}"
        if not edit.search.strip():
            raise EditError(
                f"{where} has an empty SEARCH part; quote the lines to replace:\n{edit.quoted()}"
            )
        found = code.count(edit.search)
        if found == 0:
            raise EditError(
                f"{where}: its SEARCH text does not occur in the parent exactly (copy the lines "
                f"character for character, indentation included):\n{edit.quoted()}"
            )
        if found > 1:
            raise EditError(
                f"{where}: its SEARCH text occurs {found} times in the parent; include more "
                f"lines so that it matches one place:\n{edit.quoted()}"
            )
        code = code.replace(edit.search, edit.replace, 1)
    return code


def unified_diff(parent: str, child: str, parent_name: str = "parent") -> str:
    """The change from parent to child in unified form, as stored with a design."""
    lines = difflib.unified_diff(
        parent.splitlines(keepends=True),
        child.splitlines(keepends=True),
        fromfile=parent_name,
        tofile="child",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
