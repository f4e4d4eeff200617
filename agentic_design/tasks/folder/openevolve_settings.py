"""OpenEvolve's `config.yaml` (0.4's keys), mapped to ours (`settings`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentic_design.tasks.folder.mapping import (
    MAX_ATTEMPTS,
    OPENAI_API_BASE,
    WALL_MARGIN_S,
    SettingsMap,
    env_of_key,
    islands,
)

# -- OpenEvolve --------------------------------------------------------------------------------
#: Why a key OpenEvolve 0.4 does not know is not followed.
_NOT_OURS = "not an OpenEvolve 0.4 setting"
#: OpenEvolve's settings with no equivalent here, and why.
_OPENEVOLVE_IGNORED = {
    "checkpoint_interval": "every evaluation is committed to the run store as it finishes",
    "checkpoint_on_improvement": "every evaluation is committed to the run store",
    "log_level": "OpenEvolve's own logging",
    "log_dir": "OpenEvolve's own logging",
    "logger_prefix": "OpenEvolve's own logging",
    "max_code_length": "no length cap on designs here",
    "enforce_evolve_blocks": "the folder task keeps the code outside the evolve block itself",
    "diff_pattern": "our SEARCH/REPLACE edit format is fixed",
    "full_rewrite_probability": "edit_format has no mix of full rewrites and edits",
    "convergence_threshold": "budget.stagnation counts evaluations without a new best",
    "early_stopping_metric": "the fitness is combined_score",
    "max_tasks_per_child": "the sandbox forks a fresh process for each evaluation",
    "evolution_trace": "the run store records every design and evaluation",
}

_DATABASE_WHY = "OpenEvolve's MAP-Elites database; parents are chosen by search.selection here"

_PROMPT_WHY = "OpenEvolve's prompt building; ours are the templates in prompts/"

_EVALUATOR_WHY = {
    "max_retries": "an evaluation that fails is recorded with its error, not retried",
    "cpu_limit": "the sandbox's limits apply (sandbox.*)",
    "distributed": "evaluations run in the sandbox pool (or with executor: ray)",
    "use_llm_feedback": "no LLM judges the code here",
    "llm_feedback_weight": "no LLM judges the code here",
    "enable_artifacts": "artifacts are always kept",
    "max_artifact_storage": "artifacts are bounded by the folder runner",
}

_LLM_WHY = {
    "top_p": "not set here",
    "retry_delay": "retries back off on their own",
    "system_message": "the system prompt is our template's",
    "reasoning_effort": "not set here",
    "random_seed": "not passed to the LLM",
    "evaluator_models": "no LLM judges the code here",
    "manual_mode": "not supported",
    "provider": "only OpenAI-compatible servers are mapped",
}


def openevolve_settings(data: dict[str, Any], m: SettingsMap, folder: Path) -> None:
    handled = {
        "max_iterations",
        "random_seed",
        "diff_based_evolution",
        "early_stopping_patience",
        "language",
        "file_suffix",
        "llm",
        "prompt",
        "database",
        "evaluator",
    }
    if data.get("max_iterations") is not None:
        iterations = m.integer(data["max_iterations"], "max_iterations", minimum=0)
        # An OpenEvolve run evaluates the initial program and then one child per iteration.
        m.put("budget.evaluations", iterations + 1, "max_iterations")
    if data.get("random_seed") is not None:
        m.put("seed", m.integer(data["random_seed"], "random_seed"), "random_seed")
    if data.get("diff_based_evolution") is not None:
        diff = m.boolean(data["diff_based_evolution"], "diff_based_evolution")
        m.put("search.meta_agent.edit_format", "diff" if diff else "full", "diff_based_evolution")
    if data.get("early_stopping_patience") is not None:
        patience = m.integer(data["early_stopping_patience"], "early_stopping_patience", 1)
        m.put("budget.stagnation", patience, "early_stopping_patience")
    language = data.get("language")
    if language is not None and m.text(language, "language").lower() != "python":
        raise m.fail("language", f"only Python programs are evaluated here, not {language!r}")
    suffix = data.get("file_suffix")
    if suffix is not None and m.text(suffix, "file_suffix") != ".py":
        raise m.fail(
            "file_suffix", f"only Python programs (.py) are evaluated here, not {suffix!r}"
        )
    _openevolve_llm(m.section(data, "llm", "llm"), m)
    _openevolve_prompt(m.section(data, "prompt", "prompt"), m)
    _openevolve_database(m.section(data, "database", "database"), m, data)
    _openevolve_evaluator(m.section(data, "evaluator", "evaluator"), m, folder)
    m.ignore_rest(data, handled, "", _OPENEVOLVE_IGNORED, _NOT_OURS)


def _openevolve_llm(llm: dict[str, Any], m: SettingsMap) -> None:
    if not llm:
        return
    if "model" in llm:  # OpenEvolve itself refuses it
        raise m.fail("llm.model", "not an OpenEvolve setting: use llm.models or llm.primary_model")
    base = llm.get("api_base")
    base = m.text(base, "llm.api_base") if base is not None else None
    key_env = env_of_key(llm.get("api_key"), "llm.api_key", m)
    entries: list[tuple[str, dict[str, Any]]] = [
        (f"llm.models[{i}]", entry)
        for i, entry in enumerate(m.listing(llm.get("models") or [], "llm.models"))
    ]
    for which, default_weight in (("primary", 1.0), ("secondary", 0.2)):
        if llm.get(f"{which}_model") is not None:
            weight = llm.get(f"{which}_model_weight")
            entries.append(
                (
                    f"llm.{which}_model",
                    {
                        "name": llm[f"{which}_model"],
                        "weight": default_weight if weight is None else weight,
                    },
                )
            )
    models: dict[str, dict[str, Any]] = {}
    for where, entry in entries:
        if not isinstance(entry, Mapping):
            raise m.fail(where, f"must be a mapping with a name, not {entry!r}")
        name = m.text(entry.get("name"), f"{where}.name")
        weight = m.number(entry.get("weight", 1.0), f"{where}.weight")
        provider = entry.get("provider") or llm.get("provider")
        if provider not in (None, "openai"):
            m.ignore(where, f"provider {provider!r}: only OpenAI-compatible servers are mapped")
            continue
        if weight <= 0:
            m.ignore(where, f"weight {weight:g}: never chosen")
            continue
        own_base = entry.get("api_base")
        model_base = m.text(own_base, f"{where}.api_base") if own_base is not None else base
        model_key = env_of_key(entry.get("api_key"), f"{where}.api_key", m) or key_env
        for extra in sorted(set(entry) - {"name", "weight", "api_base", "api_key", "provider"}):
            m.ignore(f"{where}.{extra}", "per-model settings are not kept; the llm block's apply")
        litellm_name = _litellm_openai_name(name, model_base)
        if litellm_name in models:
            models[litellm_name]["weight"] += weight
            m.ignore(where, f"{name} is listed twice: its weights are added")
            continue
        model: dict[str, Any] = {"model": litellm_name, "weight": weight}
        if model_base and model_base.rstrip("/") != OPENAI_API_BASE:
            model["api_base"] = model_base
        if model_key:
            model["api_key_env"] = model_key
        models[litellm_name] = model
    if len(models) == 1:
        (only,) = models.values()
        only.pop("weight")
        for key, value in only.items():
            m.put(f"llm.{key}", value, "llm")
    elif models:
        m.put("llm.models", list(models.values()), "llm.models")
        m.put("llm.choice", "weights", "llm.models")  # OpenEvolve samples models by weight
    if not models:
        m.ignore("llm", "no model to use: the search runs offline evolution")
        return
    for theirs, ours in (
        ("temperature", "temperature"),
        ("max_tokens", "max_tokens"),
        ("timeout", "timeout_s"),
    ):
        if llm.get(theirs) is not None:
            number = m.number(llm[theirs], f"llm.{theirs}")
            m.put(f"llm.{ours}", int(number) if ours == "max_tokens" else number, f"llm.{theirs}")
    if llm.get("retries") is not None:
        attempts = m.integer(llm["retries"], "llm.retries", minimum=0) + 1  # theirs: retries
        if attempts > MAX_ATTEMPTS:
            m.ignore("llm.retries", f"capped at our {MAX_ATTEMPTS} attempts per call")
        m.put("llm.retries", min(attempts, MAX_ATTEMPTS), "llm.retries")
    known = {
        "api_base",
        "api_key",
        "models",
        "temperature",
        "max_tokens",
        "timeout",
        "retries",
        "primary_model",
        "primary_model_weight",
        "secondary_model",
        "secondary_model_weight",
    }
    for key in llm:
        if key not in known and llm[key] is not None:
            m.ignore(f"llm.{key}", _LLM_WHY.get(key, _NOT_OURS))


def _litellm_openai_name(name: str, api_base: str | None) -> str:
    """OpenEvolve speaks OpenAI's protocol to every model, so litellm must too: `openai/` is
    put before the name as OpenEvolve sends it, even one with a slash (an OpenRouter
    `google/gemini-2.0-flash`). Only a name already so prefixed, for OpenAI itself, stays."""
    custom = api_base is not None and api_base.rstrip("/") != OPENAI_API_BASE
    if name.startswith("openai/") and not custom:
        return name
    return f"openai/{name}"


def _openevolve_prompt(prompt: dict[str, Any], m: SettingsMap) -> None:
    message = prompt.get("system_message")
    # "system_message" is OpenEvolve's placeholder for its own template of that name.
    if message is not None and m.text(message, "prompt.system_message") != "system_message":
        m.param("system_message", message.strip(), "prompt.system_message")
    for theirs, ours in (
        ("num_top_programs", "context_best"),
        ("num_diverse_programs", "context_diverse"),
    ):
        if prompt.get(theirs) is not None:
            count = m.integer(prompt[theirs], f"prompt.{theirs}", minimum=0)
            m.put(f"search.meta_agent.{ours}", count, f"prompt.{theirs}")
    handled = ("system_message", "num_top_programs", "num_diverse_programs")
    m.ignore_rest(prompt, handled, "prompt", _PROMPT_WHY)


def _openevolve_database(database: dict[str, Any], m: SettingsMap, top: dict[str, Any]) -> None:
    islands(database, m, "database")
    for key in database:
        if key == "random_seed" and top.get("random_seed") is None and database[key] is not None:
            m.put("seed", m.integer(database[key], "database.random_seed"), "database.random_seed")
        elif key == "feature_dimensions" and database[key] is not None:
            names = m.listing(database[key], "database.feature_dimensions")
            dims = [m.text(n, f"database.feature_dimensions[{i}]") for i, n in enumerate(names)]
            # Not averaged into the fitness when combined_score is missing, as in OpenEvolve.
            m.param("feature_dimensions", dims, "database.feature_dimensions")
        elif key not in ("num_islands", "migration_interval"):
            m.ignore(f"database.{key}", _DATABASE_WHY)


def _openevolve_evaluator(evaluator: dict[str, Any], m: SettingsMap, folder: Path) -> None:
    cascade = True  # OpenEvolve's default, used when the evaluator defines evaluate_stage1
    if evaluator.get("cascade_evaluation") is not None:
        cascade = m.boolean(evaluator["cascade_evaluation"], "evaluator.cascade_evaluation")
    thresholds = [0.5, 0.75, 0.9]
    if evaluator.get("cascade_thresholds") is not None:
        raw = m.listing(evaluator["cascade_thresholds"], "evaluator.cascade_thresholds")
        thresholds = [m.number(t, f"evaluator.cascade_thresholds[{i}]") for i, t in enumerate(raw)]
    m.param("cascade", cascade, "evaluator.cascade_evaluation")
    m.param("thresholds", thresholds, "evaluator.cascade_thresholds")
    if evaluator.get("evaluator_args") is not None:
        args = evaluator["evaluator_args"]
        if not isinstance(args, Mapping):
            raise m.fail("evaluator.evaluator_args", f"must be a mapping, not {args!r}")
        m.param("evaluator_args", dict(args), "evaluator.evaluator_args")
    if evaluator.get("timeout") is not None:
        timeout = m.number(evaluator["timeout"], "evaluator.timeout")
        if timeout <= 0:
            raise m.fail("evaluator.timeout", f"must be positive, not {timeout:g}")
        # OpenEvolve gives each cascade stage the whole timeout.
        stages = _stages(folder / "evaluator.py") if cascade else 1
        m.put("sandbox.wall_s", timeout * stages + WALL_MARGIN_S, "evaluator.timeout")
    if evaluator.get("parallel_evaluations") is not None:
        workers = m.integer(evaluator["parallel_evaluations"], "evaluator.parallel_evaluations", 1)
        m.put("sandbox.workers", workers, "evaluator.parallel_evaluations")
    if evaluator.get("memory_limit_mb") is not None:
        memory = m.integer(evaluator["memory_limit_mb"], "evaluator.memory_limit_mb", 1)
        m.put("sandbox.memory_mb", memory, "evaluator.memory_limit_mb")
    handled = {
        "cascade_evaluation",
        "cascade_thresholds",
        "evaluator_args",
        "timeout",
        "parallel_evaluations",
        "memory_limit_mb",
    }
    m.ignore_rest(evaluator, handled, "evaluator", _EVALUATOR_WHY, _NOT_OURS)


def _stages(evaluator: Path) -> int:
    """How many cascade stages the evaluator defines (1 when it defines none)."""
    try:
        text = evaluator.read_text()
    except OSError:
        return 1
    found = set(re.findall(r"^def evaluate_stage([123])\b", text, flags=re.MULTILINE))
    return max(1, len(found))
