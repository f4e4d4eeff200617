"""ShinkaEvolve's settings (the YAML `shinka_run --config-fname` reads, a Hydra variant, or
the literal arguments in `run_evo.py`), mapped to ours (`settings`)."""

from __future__ import annotations

import ast
import re
import statistics
from pathlib import Path
from typing import Any

from agentic_design.tasks.folder.mapping import (
    WALL_MARGIN_S,
    FolderSettingsError,
    SettingsMap,
    interpolated,
    islands,
)

# -- ShinkaEvolve ------------------------------------------------------------------------------
_NAMESPACES = {
    "evo": "evo",
    "evo_config": "evo",
    "db": "db",
    "db_config": "db",
    "job": "job",
    "job_config": "job",
}

_EVO_WHY = {
    "init_program_path": "the folder's initial.py is the seed",
    "results_dir": "the run directory is ours (--run-dir)",
    "embedding_model": "no embeddings here: diversity comes from the task's descriptors",
    "use_text_feedback": "text_feedback always reaches the artifacts",
    "job_type": "evaluations run in the sandbox pool (or with executor: ray)",
}

_DB_WHY = "Shinka's program database; parents are chosen by search.selection here"

_JOB_WHY = {
    "conda_env": "evaluations run with our interpreter, in the sandbox",
    "activate_script": "evaluations run with our interpreter, in the sandbox",
    "python_executable": "evaluations run with our interpreter, in the sandbox",
}

_SHINKA_MODEL_PREFIXES = (  # Shinka's bare model names, by family, and litellm's provider
    (("claude",), "anthropic"),
    (("anthropic.",), "bedrock"),
    (("gpt", "o1", "o3", "o4", "codex"), "openai"),
    (("gemini",), "gemini"),
    (("deepseek",), "deepseek"),
)

_LOCAL_MODEL = re.compile(r"^local/(?P<model>[^@]+)@(?P<url>https?://.+)$")


def shinka_settings(data: dict[str, Any], m: SettingsMap, folder: Path) -> None:
    sections: dict[str, dict[str, Any]] = {"evo": {}, "db": {}, "job": {}}
    seen: dict[str, str] = {}
    for key, value in data.items():
        namespace = _NAMESPACES.get(str(key))
        if namespace is None:
            _shinka_top(str(key), value, m)
            continue
        if namespace in seen:
            raise m.fail(str(key), f"given with {seen[namespace]!r}: use only one of them")
        seen[namespace] = str(key)
        sections[namespace] = {
            k: v
            for k, v in m.section(data, key, str(key)).items()
            if k != "_target_" and not interpolated(f"{key}.{k}", v, m)
        }
    _shinka_evo(sections["evo"], m, seen.get("evo", "evo"))
    db = seen.get("db", "db")
    islands(sections["db"], m, db)
    m.ignore_rest(sections["db"], ("num_islands", "migration_interval"), db, _DB_WHY)
    _shinka_job(sections["job"], m, seen.get("job", "job"), folder)


def _shinka_top(key: str, value: Any, m: SettingsMap) -> None:
    if key == "max_evaluation_jobs" and value is not None:
        m.put("sandbox.workers", m.integer(value, key, minimum=1), key)
    elif key == "max_proposal_jobs" and value is not None:
        m.put("search.meta_agent.in_flight", m.integer(value, key, minimum=1), key)
    elif key in ("max_db_workers", "verbose", "debug"):
        m.ignore(key, "Shinka's runner's own setting")
    else:
        m.ignore(key, "not a shinka_run setting (Hydra's own keys are not read)")


def _shinka_evo(evo: dict[str, Any], m: SettingsMap, ns: str) -> None:
    if evo.get("num_generations") is not None:
        # Shinka's generations count the initial program (generation 0), as our budget does.
        m.put(
            "budget.evaluations",
            m.integer(evo["num_generations"], f"{ns}.num_generations", 1),
            f"{ns}.num_generations",
        )
    if evo.get("max_api_costs") is not None:
        m.put(
            "budget.usd",
            m.number(evo["max_api_costs"], f"{ns}.max_api_costs"),
            f"{ns}.max_api_costs",
        )
    if evo.get("task_sys_msg") is not None:
        m.param(
            "system_message",
            m.text(evo["task_sys_msg"], f"{ns}.task_sys_msg").strip(),
            f"{ns}.task_sys_msg",
        )
    language = evo.get("language")
    if language is not None and m.text(language, f"{ns}.language").lower() != "python":
        raise m.fail(f"{ns}.language", f"only Python programs are evaluated here, not {language!r}")
    _shinka_llm(evo, m, ns)
    _shinka_patches(evo, m, ns)
    handled = {
        "num_generations",
        "max_api_costs",
        "task_sys_msg",
        "language",
        "llm_models",
        "llm_dynamic_selection",
        "llm_dynamic_selection_kwargs",
        "llm_kwargs",
        "patch_types",
        "patch_type_probs",
    }
    m.ignore_rest(evo, handled, ns, _EVO_WHY, "no equivalent here")


def _shinka_llm(evo: dict[str, Any], m: SettingsMap, ns: str) -> None:
    names = m.listing(evo.get("llm_models") or [], f"{ns}.llm_models")
    selection = evo.get("llm_dynamic_selection", "ucb")  # Shinka's default
    options = m.section(evo, "llm_dynamic_selection_kwargs", f"{ns}.llm_dynamic_selection_kwargs")
    priors = options.get("prior_probs") if selection == "fixed" else None
    if priors is not None and len(
        m.listing(priors, f"{ns}.llm_dynamic_selection_kwargs.prior_probs")
    ) != len(names):
        raise m.fail(
            f"{ns}.llm_dynamic_selection_kwargs.prior_probs", "needs one per llm_models entry"
        )
    models: list[dict[str, Any]] = []
    for i, raw in enumerate(names):
        where = f"{ns}.llm_models[{i}]"
        model = _litellm_shinka_model(m.text(raw, where))
        if model is None:
            m.ignore(where, f"{raw}: a headless agent CLI, not an LLM API")
            continue
        if priors is not None:
            model["weight"] = m.number(
                priors[i], f"{ns}.llm_dynamic_selection_kwargs.prior_probs[{i}]"
            )
            if model["weight"] <= 0:
                m.ignore(where, f"{raw}: prior probability 0, never chosen")
                continue
        models.append(model)
    if len(models) == 1:
        for key, value in models[0].items():
            if key != "weight":
                m.put(f"llm.{key}", value, f"{ns}.llm_models")
    elif models:
        m.put("llm.models", models, f"{ns}.llm_models")
        bandit = selection is not None and str(selection).lower() in ("ucb", "ucb1", "thompson")
        m.put("llm.choice", "bandit" if bandit else "weights", f"{ns}.llm_dynamic_selection")
        if str(selection).lower() == "thompson":
            m.ignore(f"{ns}.llm_dynamic_selection", "Thompson sampling: our bandit is UCB1")
        if bandit and options.get("exploration_coef") is not None:
            coef = m.number(
                options["exploration_coef"], f"{ns}.llm_dynamic_selection_kwargs.exploration_coef"
            )
            m.put("llm.exploration", coef, f"{ns}.llm_dynamic_selection_kwargs.exploration_coef")
    for key in sorted(set(options) - {"exploration_coef", "prior_probs"}):
        m.ignore(f"{ns}.llm_dynamic_selection_kwargs.{key}", "no equivalent in our bandit")
    kwargs = m.section(evo, "llm_kwargs", f"{ns}.llm_kwargs")
    if not models:
        if names or kwargs:
            m.ignore(f"{ns}.llm_models", "no model to use: the search runs offline evolution")
        return
    temperatures = kwargs.get("temperatures", kwargs.get("temperature"))
    if temperatures is not None:
        key = f"{ns}.llm_kwargs.temperatures"
        values = temperatures if isinstance(temperatures, list) else [temperatures]
        numbers = [m.number(v, key) for v in values]
        if numbers:
            m.put("llm.temperature", statistics.fmean(numbers), key)
        if len(set(numbers)) > 1:
            m.ignore(key, "Shinka samples one of them per call; their mean is used")
    if kwargs.get("max_tokens") is not None:
        m.put(
            "llm.max_tokens",
            m.integer(kwargs["max_tokens"], f"{ns}.llm_kwargs.max_tokens", 1),
            f"{ns}.llm_kwargs.max_tokens",
        )
    for key in sorted(set(kwargs) - {"temperatures", "temperature", "max_tokens"}):
        m.ignore(f"{ns}.llm_kwargs.{key}", "not set here")


def _litellm_shinka_model(name: str) -> dict[str, Any] | None:
    """litellm's name (and server) for one of Shinka's model names; None for a headless
    agent. Shinka's bare names are its pricing table's, of known families."""
    if name.startswith("headless/"):
        return None
    local = _LOCAL_MODEL.match(name)
    if local:  # local/MODEL@URL[?api_key_env=VAR]: an OpenAI-compatible server
        url, _, query = local.group("url").partition("?")
        model: dict[str, Any] = {"model": f"openai/{local.group('model')}", "api_base": url}
        env = re.search(r"(?:^|&)api_key_env=([A-Za-z_][A-Za-z0-9_]*)", query)
        if env:
            model["api_key_env"] = env.group(1)
        return model
    if name.startswith("azure-"):
        return {"model": "azure/" + name.removeprefix("azure-")}
    if "/" in name:  # openrouter/..., bedrock/...: litellm's own prefixes
        return {"model": name}
    for prefixes, provider in _SHINKA_MODEL_PREFIXES:
        if name.startswith(prefixes):
            return {"model": f"{provider}/{name}"}
    return {"model": name}


def _shinka_patches(evo: dict[str, Any], m: SettingsMap, ns: str) -> None:
    if evo.get("patch_types") is None:
        return
    types = [
        m.text(t, f"{ns}.patch_types") for t in m.listing(evo["patch_types"], f"{ns}.patch_types")
    ]
    probs = evo.get("patch_type_probs")
    weights = (
        [m.number(p, f"{ns}.patch_type_probs") for p in m.listing(probs, f"{ns}.patch_type_probs")]
        if probs is not None
        else [1.0] * len(types)
    )
    if len(weights) != len(types):
        raise m.fail(f"{ns}.patch_type_probs", "needs one probability per patch type")
    used = {t for t, w in zip(types, weights, strict=True) if w > 0}
    edits = sorted(used & {"diff", "full"})
    form = edits[0] if len(edits) == 1 else "auto"
    m.put("search.meta_agent.edit_format", form, f"{ns}.patch_types")
    if len(edits) > 1:
        m.ignore(f"{ns}.patch_type_probs", "a mix of diffs and full rewrites: edit_format auto")
    if "cross" in used:
        m.ignore(f"{ns}.patch_types", "cross: crossover is one of the meta-agent's modes here")


def _shinka_job(job: dict[str, Any], m: SettingsMap, ns: str, folder: Path) -> None:
    if job.get("time") is not None:
        timeout = _hms(m.text(job["time"], f"{ns}.time"), f"{ns}.time", m)
        m.param("timeout_s", timeout, f"{ns}.time")
        m.put("sandbox.wall_s", timeout + WALL_MARGIN_S, f"{ns}.time")
    script = job.get("eval_program_path")
    if script is not None and m.text(script, f"{ns}.eval_program_path") != "evaluate.py":
        if (
            (folder / script).is_file()
            and not Path(script).is_absolute()
            and ".." not in Path(script).parts
        ):
            m.param("evaluator", Path(script).as_posix(), f"{ns}.eval_program_path")
        else:
            m.ignore(f"{ns}.eval_program_path", f"{script} is not a file in the folder")
    if job.get("extra_cmd_args"):
        args = m.section(job, "extra_cmd_args", f"{ns}.extra_cmd_args")
        m.param("extra_args", {str(k): str(v) for k, v in args.items()}, f"{ns}.extra_cmd_args")
    for key in job:
        if key not in ("time", "eval_program_path", "extra_cmd_args"):
            m.ignore(f"{ns}.{key}", _JOB_WHY.get(key, "the sandbox's limits apply (sandbox.*)"))


def _hms(value: str, key: str, m: SettingsMap) -> float:
    parts = value.split(":")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise m.fail(key, f"must be a time hh:mm:ss, not {value!r}")
    hours, minutes, seconds = (int(p) for p in parts)
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise m.fail(key, "must be longer than 00:00:00")
    return float(total)


# -- Shinka's run_evo.py -----------------------------------------------------------------------
_CALLS = {
    "EvolutionConfig": "evo",
    "DatabaseConfig": "db",
    "JobConfig": "job",
    "LocalJobConfig": "job",
    "SlurmCondaJobConfig": "job",
    "SlurmDockerJobConfig": "job",
    "ShinkaEvolveRunner": "runner",
    "EvolutionRunner": "runner",
}

_RUNNER_KEYS = ("max_evaluation_jobs", "max_proposal_jobs", "max_db_workers", "verbose", "debug")


def shinka_from_python(path: Path, m: SettingsMap) -> dict[str, Any]:
    """The YAML form of the settings in a run_evo.py: the literal keyword arguments of its
    config and runner calls (a module-level constant counts as literal; others are noted)."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        raise FolderSettingsError(f"{path}: cannot be read as Python: {exc}") from None
    constants: dict[str, Any] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            value = _literal(node.value, {})
            if value is not _NOT_LITERAL:
                constants[node.targets[0].id] = value
    data: dict[str, Any] = {}
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = (
            func.id
            if isinstance(func, ast.Name)
            else func.attr
            if isinstance(func, ast.Attribute)
            else ""
        )
        namespace = _CALLS.get(name)
        if namespace is None:
            continue
        if namespace != "runner" and namespace in data:
            m.ignore(f"{name}(...) at line {call.lineno}", "a second call: the first one is read")
            continue
        found: dict[str, Any] = {}
        for keyword in call.keywords:
            if keyword.arg is None or (namespace == "runner" and keyword.arg not in _RUNNER_KEYS):
                continue
            value = _literal(keyword.value, constants)
            if value is _NOT_LITERAL:
                m.ignore(
                    f"{namespace}.{keyword.arg}",
                    f"not a literal in {path.name} (line {keyword.lineno})",
                )
            else:
                found[keyword.arg] = value
        if namespace == "runner":
            data.update(found)
        else:
            data[namespace] = found
    return data


_NOT_LITERAL = object()


def _literal(node: ast.expr, constants: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and not node.args
    ):
        values = {k.arg: _literal(k.value, constants) for k in node.keywords if k.arg}
        return _NOT_LITERAL if _NOT_LITERAL in values.values() else values
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL
