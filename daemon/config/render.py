"""The commented config file `init` writes and the tables of docs/configuration.md, as code."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from typing import Any

from daemon.config.keys import FLAG_COMMANDS, KEYS, OTHER_VARIABLES, Key, env_name, flags

__all__ = [
    "default_text",
    "render_config",
    "render_flag_commands",
    "render_other_variables",
    "render_settings_table",
    "toml_value",
]

_HEADER = """\
# taskclf-daemon configuration (TOML){written_by}.
#
# Every key is listed below with its meaning and default. A line starting with `#` is a
# comment: remove the `# ` in front of a key to set it. TASKCLF_<KEY> environment variables
# override this file, and `--key-name` flags of `taskclf-daemon run` override both. Paths may
# start with ~ and use $VARIABLES. Check what you changed with: taskclf-daemon doctor
"""


def toml_value(value: Any) -> str:
    """``value`` as a TOML literal (the settings' types only: str, path, number, bool, list)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    # a JSON string is a valid TOML basic string
    return json.dumps(str(value))


def default_text(key: str) -> str:
    """The default of ``key`` for people: a TOML value, ``unset``, or a sentence."""
    spec = KEYS[key]
    if spec.default_text:
        return spec.default_text
    if spec.optional:
        return "unset"
    return toml_value(spec.default)


def _example(spec: Key) -> Any:
    if spec.factory is not None:
        return spec.factory()
    if spec.default is not None:
        return spec.default
    return spec.example if spec.example is not None else ""


def render_config(values: Mapping[str, Any] | None = None, *, written_by: str = "") -> str:
    """The whole file: every key commented out at its default, except those in ``values``."""
    values = dict(values or {})
    unknown = set(values) - set(KEYS)
    if unknown:
        raise ValueError(f"not settings: {sorted(unknown)}")
    by = f", written by {written_by}" if written_by else ""
    parts = [_HEADER.format(written_by=by).rstrip("\n")]
    for key, spec in KEYS.items():
        texts = [f"{key}: {spec.description}", f"default: {default_text(key)}"]
        if spec.note and key not in values:
            texts.append(spec.note)
        lines = [line for t in texts for line in textwrap.wrap(t, 94, break_on_hyphens=False)]
        block = "\n".join(f"# {line}" for line in lines)
        if key in values:
            block += f"\n{key} = {toml_value(values[key])}"
        else:
            block += f"\n# {key} = {toml_value(_example(spec))}"
        parts.append(block)
    return "\n\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_settings_table() -> str:
    """The Markdown table of every key (docs/configuration.md holds exactly this)."""
    rows = [
        "| key | default | environment | flag | read by | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for key, spec in KEYS.items():
        spelled = " ".join(f"`{f}`" for f in flags(key))
        readers = ", ".join(f"`{r}`" for r in spec.readers)
        rows.append(
            f"| `{key}` | {_cell(default_text(key))} | `{env_name(key)}` | {spelled} "
            f"| {readers} | {_cell(spec.description)} |"
        )
    return "\n".join(rows) + "\n"


def render_flag_commands() -> str:
    """Which commands take the flags (docs/configuration.md holds exactly this line)."""
    takers = ", ".join(f"`{c}`" for c in FLAG_COMMANDS if c != "doctor")
    return (
        f"{takers} take the flag of each key they read (the **read by** column); `doctor` "
        "takes every one, since it checks every key; the other commands read the file and "
        "the environment only.\n"
    )


def render_other_variables() -> str:
    """The ``TASKCLF_*`` variables that are not keys (docs/configuration.md holds this line)."""
    names = ", ".join(f"`{n}`" for n in sorted(OTHER_VARIABLES))
    return f"{names} and every `TASKCLF_ELECTRON_*` variable.\n"
