"""The commented config file `init` writes and the docs' settings table: both from Settings."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from typing import Any

from pydantic.fields import FieldInfo

from daemon.config.settings import Settings, env_name, flags

__all__ = ["default_text", "render_config", "render_settings_table", "toml_value"]

_HEADER = """\
# taskclf-daemon configuration (TOML){written_by}.
#
# Every key is listed below with its meaning and default. A line starting with `#` is a
# comment: remove the `# ` in front of a key to set it. TASKCLF_<KEY> environment variables
# override this file, and `--key-name` flags of `taskclf-daemon run` override both. Paths may
# start with ~ and use $VARIABLES. Check what you changed with: taskclf-daemon doctor
"""

# said next to a key in the file; the field description says what it is, this says what to do
_NOTES: Mapping[str, str] = {
    "policy_file": "to install a bundle (and its store) and set this: "
    "taskclf-daemon init --force --model DIR [--store DIR]; later models: taskclf-daemon deploy",
}


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


def _extra(info: FieldInfo) -> Mapping[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def default_text(key: str) -> str:
    """The default of ``key`` for people: a TOML value, ``unset``, or a sentence."""
    info = Settings.model_fields[key]
    if "default_text" in _extra(info):
        return str(_extra(info)["default_text"])
    if info.default is None:
        return "unset"
    return toml_value(info.default)


def _example(key: str, info: FieldInfo) -> Any:
    if info.default is not None or info.default_factory is not None:
        return info.get_default(call_default_factory=True)
    return info.examples[0] if info.examples else ""


def render_config(values: Mapping[str, Any] | None = None, *, written_by: str = "") -> str:
    """The whole file: every key commented out at its default, except those in ``values``."""
    values = dict(values or {})
    unknown = set(values) - set(Settings.model_fields)
    if unknown:
        raise ValueError(f"not settings: {sorted(unknown)}")
    by = f", written by {written_by}" if written_by else ""
    parts = [_HEADER.format(written_by=by).rstrip("\n")]
    for key, info in Settings.model_fields.items():
        texts = [f"{key}: {info.description}", f"default: {default_text(key)}"]
        if key in _NOTES and key not in values:
            texts.append(_NOTES[key])
        lines = [line for t in texts for line in textwrap.wrap(t, 94, break_on_hyphens=False)]
        block = "\n".join(f"# {line}" for line in lines)
        if key in values:
            block += f"\n{key} = {toml_value(values[key])}"
        else:
            block += f"\n# {key} = {toml_value(_example(key, info))}"
        parts.append(block)
    return "\n\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_settings_table() -> str:
    """The Markdown table of every key (docs/configuration.md holds exactly this)."""
    rows = [
        "| key | default | environment | flag of `run` | meaning |",
        "|---|---|---|---|---|",
    ]
    for key, info in Settings.model_fields.items():
        spelled = " ".join(f"`{f}`" for f in flags(key))
        rows.append(
            f"| `{key}` | {_cell(default_text(key))} | `{env_name(key)}` | {spelled} "
            f"| {_cell(info.description or '')} |"
        )
    return "\n".join(rows) + "\n"
