"""Running a search: `assemble` turns a `RunConfig` into working parts (the one place that
does), `search` drives the loop, `pipeline` keeps it deterministic, `evaluation` runs a design in
the sandbox and scores it outside, `broker` serves sandboxed agents' LLM calls, `ray_executor`
evaluates on a Ray cluster, `replay` evaluates archived designs again.

Nothing is imported here: `evaluation` and `program_check` also run inside the sandbox, which
must not load the search's dependencies (rich, litellm) with them.
"""
