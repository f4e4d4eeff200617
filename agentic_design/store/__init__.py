"""What a run keeps: the run store (`archive`: SQLite, one file per run; its file format in
`schema`, records as rows in `rows`, the LLM-call log in `llm_calls`, a proposer's bounded view in
`context`), the imports of other systems' runs (ADAS's archives: `adas_format`, `import_adas`;
OpenEvolve's checkpoints and ShinkaEvolve's databases: `import_openevolve`, `import_shinka`,
sharing `import_common`), and Pareto fronts over what it
holds (`pareto`). It reaches only `config` and `records`; replaying a design (`Archive.replay`)
is the one call that runs an evaluation, and it imports `run.replay` when called."""

from agentic_design.store.archive import Archive, db_path

__all__ = ["Archive", "db_path"]
