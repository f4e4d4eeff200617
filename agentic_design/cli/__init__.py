"""The `agentic-design` command: a thin shell over the Python API.

Exit codes: 0 done, 1 the work failed, 2 bad input (config, file, arguments) with a message that
names what is wrong and where — never a traceback for a user's mistake.

One typer app (`app.py`) that each module's commands join as the module loads: `search`
(run, resume), `inspect` (status, show), `replay`, `export` (export, report), `adas`
(import-adas), `imports` (import-openevolve, import-shinka) and `about` (sandbox-info,
tasks). The search, the report and the replay load only inside the commands that need them, so
the command line starts fast.
"""

from __future__ import annotations

from agentic_design.cli.app import app, main, run_app

# isort: off
# Each module's commands join the app as it loads: this order is the one `--help` lists.
from agentic_design.cli import search  # noqa: F401  run, resume
from agentic_design.cli import inspect  # noqa: F401  status, show
from agentic_design.cli import replay  # noqa: F401  replay
from agentic_design.cli import export  # noqa: F401  export, report
from agentic_design.cli import adas  # noqa: F401  import-adas
from agentic_design.cli import imports  # noqa: F401  import-openevolve, import-shinka
from agentic_design.cli import about  # noqa: F401  sandbox-info, tasks
from agentic_design.cli import init  # noqa: F401  init
from agentic_design.cli import serve  # noqa: F401  serve
from agentic_design.cli import estimate  # noqa: F401  estimate

# isort: on

__all__ = ["app", "main", "run_app"]
