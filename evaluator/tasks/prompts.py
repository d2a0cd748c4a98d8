"""Which of a model's own prompts (sentence-transformers `prompts`) applies to a task and to which side.

Two conventions are understood:
- patembed: `prompts[task] = {"q_text": ..., "pos_text": ...}`; queries (and the single text of non-retrieval
  tasks) get `q_text`, documents get `pos_text`.
- plain strings, looked up the way mteb does: "<task>-<role>", "<task>", "<TaskType>-<role>", "<TaskType>",
  then what sentence-transformers itself would use: "query" for queries, "document"/"passage"/"corpus" for
  documents, the model's `default_prompt_name` for single texts.
Empty prompts count as none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

QUERY, DOCUMENT = "query", "document"
SINGLE_TEXT = "text"
"""The role of the one kind of text that classification, clustering and paraphrase tasks embed."""

_FALLBACKS = {QUERY: (QUERY,), DOCUMENT: (DOCUMENT, "passage", "corpus")}


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str


def resolve_prompt(
    prompts: Mapping[str, object] | None,
    task_name: str,
    task_type: str,
    role: str,
    default_prompt_name: str | None = None,
) -> Prompt | None:
    prompts = prompts or {}
    own = prompts.get(task_name)
    if isinstance(own, Mapping):
        field = "pos_text" if role == DOCUMENT else "q_text"
        text = own.get(field)
        return Prompt(f"{task_name}.{field}", text) if isinstance(text, str) and text else None

    candidates = [task_name, task_type]
    if role in _FALLBACKS:
        candidates = [f"{task_name}-{role}", task_name, f"{task_type}-{role}", task_type, *_FALLBACKS[role]]
    elif default_prompt_name:
        candidates.append(default_prompt_name)
    for name in candidates:
        text = prompts.get(name)
        if isinstance(text, str) and text:
            return Prompt(name, text)
    return None


def roles_of(task_type: str) -> tuple[str, ...]:
    return (QUERY, DOCUMENT) if task_type == "Retrieval" else (SINGLE_TEXT,)


def prompt_record(used: Mapping[str, Prompt | None]) -> str | None:
    """What is stored with a score: JSON {role: prompt text} of the roles that had a prompt, or None."""
    texts = {role: prompt.text for role, prompt in sorted(used.items()) if prompt is not None}
    return json.dumps(texts, ensure_ascii=False) if texts else None


def model_uses_prompts(prompts: Mapping[str, object] | None, default_prompt_name: str | None = None) -> bool:
    return bool(default_prompt_name) or any(bool(value) for value in (prompts or {}).values())
