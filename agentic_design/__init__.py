"""agentic-design: automated design of neural architectures and LLM agents.

from agentic_design import RunConfig, Search, Archive
result = Search(RunConfig.from_yaml("examples/digits.yaml")).run()
best = Archive.open(result.run_dir).best()
"""

from agentic_design.archive import Archive
from agentic_design.config import RunConfig
from agentic_design.records import Design, Proposal, Status
from agentic_design.search import Search, SearchResult
from agentic_design.tasks import Task

__all__ = ["Archive", "Design", "Proposal", "RunConfig", "Search", "SearchResult", "Status", "Task"]
__version__ = "0.1.0"
