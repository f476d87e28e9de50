"""Every configuration key, once: name, type, default, bounds, meaning, the commands reading it.

The commented file `init` writes, docs/configuration.md's table, every command's ``--key-name``
flags, the cheap readers of `status`, `reload` and `report` and the validating
:class:`daemon.config.settings.Settings` are all made from :data:`KEYS`. No pydantic here: a
person types `status`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal, NamedTuple

from daemon.paths import default_data_dir

__all__ = [
    "COLLECTOR_KEYS",
    "ENV_PREFIX",
    "FLAG_COMMANDS",
    "KEYS",
    "OTHER_VARIABLES",
    "POLICY_BINDS",
    "Key",
    "Kind",
    "default_number",
    "env_name",
    "expand_path",
    "flags",
    "is_known_variable",
    "parse_path",
    "suggest_key",
    "suggest_variable",
]

ENV_PREFIX: Final = "TASKCLF_"

# path: ~ and $VARS expanded; users: user ids ("a,b" or a JSON list in the environment and flags)
Kind = Literal["path", "float", "int", "bool", "str", "choice", "users"]


class Key(NamedTuple):
    """One configuration key (a NamedTuple: no dataclasses import on the way to `status`)."""

    name: str
    kind: Kind
    default: object  # None: unset (the key is optional); see also ``factory``
    description: str
    readers: tuple[str, ...]  # the commands that read it (doctor checks every key)
    factory: Callable[[], object] | None = None  # a default computed when it is needed
    default_text: str = ""  # the default for people, when it is not a plain value
    example: object = None  # shown in the commented file for a key that is unset by default
    note: str = ""  # said next to the key in the commented file: what to do
    choices: tuple[str, ...] = ()  # kind "choice"
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    spellings: tuple[str, ...] = ()  # flags other than --key-name, the preferred one first

    @property
    def optional(self) -> bool:
        """Whether the key may be unset (its default is None)."""
        return self.default is None and self.factory is None


def _hostname() -> str:
    import socket  # only when the collector's host is asked for

    return socket.gethostname()


# the commands that read most keys; doctor checks every key and takes every flag
_RUN: Final = ("run",)
_DATA: Final = (
    "run",
    "status",
    "reload",
    "report",
    "collect",
    "personalize",
    "label",
    "deploy",
    "rollback",
    "calibrate",
    "check-store",
    "init",
    "ui",
    "retrain",
)
_MODEL: Final = (
    "run",
    "report",
    "collect",
    "personalize",
    "deploy",
    "rollback",
    "check-store",
    "retrain",
)

KEYS: Final[dict[str, Key]] = {
    k.name: k
    for k in (
        Key(
            "data_dir",
            "path",
            None,
            "holds the spool, the label log (labels/) and, by default, the model",
            _DATA,
            factory=default_data_dir,
            default_text="the user data dir: ~/.local/share/taskclf (Linux), "
            "~/Library/Application Support/taskclf (macOS)",
        ),
        Key(
            "spool_dir",
            "path",
            None,
            "where collectors drop feature windows (tmp/ then new/); unset: <data_dir>/spool",
            ("run", "status", "reload", "collect", "deploy", "rollback", "calibrate", "ui"),
            example="~/.local/share/taskclf/spool",
        ),
        Key(
            "policy_file",
            "path",
            None,
            "taskclf inference policy binding the model, the calibrator store and the reject "
            "thresholds (what `init --model` and `deploy` write); when set, model_dir, "
            "calibrator_store and reject_threshold must not be",
            (*_MODEL, "calibrate"),
            example="~/.local/share/taskclf/models/inference_policy.json",
            note="to install a bundle (and its store) and set this: taskclf-daemon init "
            "--force --model DIR [--store DIR]; later models: taskclf-daemon deploy",
        ),
        Key(
            "model_dir",
            "path",
            None,
            "the model bundle directory (taskclf layout; its name is the bundle id); "
            "unset: <data_dir>/model",
            _MODEL,
            example="~/models/bundle_v1",
            spellings=("--model",),
        ),
        Key(
            "calibrator_store",
            "path",
            None,
            "the CalibratorStore directory, or a symlink to one; unset: no calibration",
            ("run", "personalize"),
            example="~/stores/current",
            spellings=("--store",),
        ),
        Key(
            "taxonomy",
            "path",
            None,
            "taskclf taxonomy file (.yaml, .yml or .toml) mapping labels to your buckets; "
            "unset: no mapping",
            ("run", "report"),
            example="~/.config/taskclf/taxonomy.yaml",
        ),
        Key(
            "state_dir",
            "path",
            None,
            "deprecated and ignored: the lock and status file now live with the data they "
            "guard (.daemon.lock and .daemon-status.json in the spool, .daemon.lock in the "
            "label directory); still accepted so older config files load",
            ("run", "status", "reload"),
            default_text="unset (deprecated: ignored)",
            example="~/.local/state/taskclf",
        ),
        Key(
            "reject_threshold",
            "float",
            0.55,
            "a window whose calibrated confidence is below this is labelled Mixed/Unknown",
            _RUN,
            ge=0.0,
            le=1.0,
        ),
        Key(
            "smooth_window",
            "int",
            3,
            "windows in the rolling majority behind smoothed_label",
            _RUN,
            ge=1,
            le=1000,
        ),
        Key(
            "idle_gap_seconds",
            "float",
            300.0,
            "a longer gap between a user's windows starts a fresh smoothing (and a new segment "
            "in the report and in ActivityWatch's label bucket)",
            ("run", "report", "label", "ui", "collect"),
            gt=0,
        ),
        Key(
            "personalization",
            "bool",
            True,
            "false: the global calibrator for everyone, never a per-user one",
            ("run", "personalize"),
        ),
        Key(
            "opt_out_users",
            "users",
            (),
            'users never given a per-user calibrator (environment and flags: "a,b" or a JSON list)',
            ("run", "personalize", "calibrate"),
            example=["u-alice"],
        ),
        Key(
            "retention_days",
            "float",
            7.0,
            "processed spool files (done/) are deleted after this many days",
            _RUN,
            ge=0,
        ),
        Key(
            "label_retention_days",
            "float",
            None,
            "label-log days older than this are deleted; unset: keep forever",
            _RUN,
            gt=0,
            example=365,
        ),
        Key(
            "max_file_bytes",
            "int",
            16 * 1024 * 1024,
            "a larger spool file is rejected unread",
            _RUN,
            gt=0,
        ),
        Key(
            "batch_max_windows",
            "int",
            1024,
            "windows per LightGBM call when draining a backlog",
            _RUN,
            ge=1,
            le=100_000,
        ),
        Key(
            "predict_threads",
            "int",
            0,
            "threads for batch prediction; 0: LightGBM's default (all cores)",
            _RUN,
            ge=0,
        ),
        Key(
            "rescan_interval_seconds",
            "float",
            5.0,
            "the safety-net rescan of the spool (file events can be lost)",
            _RUN,
            gt=0,
        ),
        Key(
            "reload_debounce_seconds",
            "float",
            0.25,
            "quiet time after a store change before it is reloaded",
            _RUN,
            ge=0,
        ),
        Key(
            "heartbeat_seconds",
            "float",
            5.0,
            "how often the status file is refreshed",
            _RUN,
            gt=0,
        ),
        Key(
            "observer",
            "choice",
            "auto",
            "how new spool files are noticed: auto (inotify on Linux, FSEvents on macOS, "
            "polling if those fail), polling, or none (the periodic rescan only)",
            _RUN,
            choices=("auto", "polling", "none"),
        ),
        Key(
            "log_level",
            "choice",
            "info",
            "the least severe log lines written",
            ("run", "collect"),
            choices=("debug", "info", "warning", "error"),
        ),
        Key(
            "log_format",
            "choice",
            "auto",
            "log lines as JSON (for journald and files read by programs) or for people; "
            "auto: console on a terminal, JSON otherwise",
            ("run", "collect"),
            choices=("auto", "console", "json"),
        ),
        # the feature archive and `retrain` (docs/learning.md)
        Key(
            "retrain_lookback_days",
            "int",
            30,
            "retrain trains on the labelled windows of this many last days; the feature "
            "archive keeps the windows the daemon labelled that long",
            ("run", "retrain", "status"),
            ge=1,
            le=36500,
        ),
        Key(
            "archive_max_bytes",
            "int",
            1024 * 1024 * 1024,
            "the feature archive's size limit: beyond it its oldest days are deleted",
            _RUN,
            gt=0,
        ),
        Key(
            "retrain_cadence_days",
            "int",
            7,
            "a retrain is due once the model in force is this many days old (--force: now)",
            ("retrain",),
            ge=0,
            le=36500,
        ),
        Key(
            "retrain_user_id_feature",
            "bool",
            True,
            "the retrained model knows whose window it labels (user_id as a categorical "
            "feature); false: one model for everyone, as taskclf's global one",
            ("retrain",),
        ),
        Key(
            "retrain_reject_tuning",
            "choice",
            "final",
            "how retrain tunes the new model's reject threshold on its validation windows: "
            "final (with three stand-in afternoons of the train windows, each scored by a "
            "model trained without it; over thresholds 0.10-0.99 by 0.01 and the "
            "confidences above 0.99, the best final accuracy, a rejected "
            "window counting as wrong, with the reject rate inside the gate's bounds by two "
            "standard errors counted over the runs of work, the lower end over a model no "
            "higher than that model's own reject rate on the validation windows (never below "
            "the floor), else the nearest inside them) or "
            "taskclf (taskclf's tune_reject_threshold over 0.10-0.95 by 0.05: the best "
            "accuracy on accepted windows, which picks the most rejects the bounds allow)",
            ("retrain",),
            choices=("final", "taskclf"),
        ),
        Key(
            "retrain_min_breakidle_precision",
            "float",
            0.95,
            "a challenger's BreakIdle precision must be at least this (taskclf's gate); 0 turns "
            "it off, and with both off a first model needs no BreakIdle windows (for one whose "
            "breaks make none: docs/learning.md)",
            ("retrain", "status"),
            ge=0.0,
            le=1.0,
        ),
        Key(
            "retrain_min_class_precision",
            "float",
            0.50,
            "every class a challenger predicts 5+ times needs at least this precision",
            ("retrain",),
            ge=0.0,
            le=1.0,
        ),
        Key(
            "retrain_min_macro_f1",
            "float",
            0.65,
            "a challenger's macro-F1 must be at least this (taskclf's gate)",
            ("retrain",),
            ge=0.0,
            le=1.0,
        ),
        Key(
            "retrain_min_weighted_f1",
            "float",
            0.70,
            "a challenger's weighted-F1 must be at least this (taskclf's gate)",
            ("retrain",),
            ge=0.0,
            le=1.0,
        ),
        Key(
            "retrain_min_breakidle_recall",
            "float",
            0.90,
            "a challenger's BreakIdle recall must be at least this (taskclf's gate); 0 turns "
            "it off, and with both off a first model needs no BreakIdle windows (for one whose "
            "breaks make none: docs/learning.md)",
            ("retrain", "status"),
            ge=0.0,
            le=1.0,
        ),
        Key(
            "retrain_min_reject_rate",
            "float",
            0.05,
            "a challenger must reject at least this share of windows (taskclf's gate; the "
            "reject threshold is tuned within this and retrain_max_reject_rate)",
            ("retrain",),
            ge=0.0,
            le=1.0,
        ),
        Key(
            "retrain_max_reject_rate",
            "float",
            0.30,
            "a challenger may reject at most this share of windows (taskclf's gate)",
            ("retrain",),
            ge=0.0,
            le=1.0,
        ),
        Key(
            "retrain_regression_tolerance",
            "float",
            0.02,
            "a challenger whose macro-F1 is more than this below the model in force's, on "
            "the same windows, is refused (taskclf's gate)",
            ("retrain",),
            ge=0.0,
            le=1.0,
        ),
        Key(
            "retrain_user_regression_tolerance",
            "float",
            0.01,
            "a challenger that costs any user (with 20+ evaluation windows), or everyone's "
            "windows together, more than this final accuracy is refused when the loss is "
            "significant (exact sign test of the runs of work the two models disagree "
            "on, p < 0.05); 1.0 turns the gate off",
            ("retrain",),
            ge=0.0,
            le=1.0,
            example=0.02,
        ),
        # the ActivityWatch collector (`taskclf-daemon collect`, docs/collector.md)
        Key(
            "aw_url",
            "str",
            "http://127.0.0.1:5600",
            "the ActivityWatch server the collector reads (a loopback host only); `retrain` "
            "reads it too, to rebuild labelled days older than the archive, and `doctor` "
            "checks it",
            ("collect",),
        ),
        Key(
            "aw_hostname",
            "str",
            None,
            "the collector reads the window and input buckets of this host (and `retrain` "
            "and `doctor`, as aw_url)",
            ("collect",),
            factory=_hostname,
            default_text="this machine's hostname",
        ),
        Key(
            "aw_api_key",
            "str",
            None,
            "ActivityWatch's API key (the api_key of aw-server-rust's [auth] or aw-server's "
            "[server.auth]), sent as Authorization: Bearer with every request of the "
            "collector (and `retrain` and `doctor`, as aw_url); unset: none",
            ("collect",),
            example="your-activitywatch-api-key",
            note="a secret: keep this file private (chmod 600), or set TASKCLF_AW_API_KEY",
        ),
        Key(
            "title_salt_file",
            "path",
            None,
            "taskclf's title salt, which window-title features are keyed by; "
            "unset: <data_dir>/data/processed/.title_secret (taskclf's own file)",
            ("collect",),
            example="~/.taskclf/data/processed/.title_secret",
        ),
        Key(
            "collect_user_id",
            "str",
            None,
            "the user id the collector writes windows for; "
            "unset: the contents of <data_dir>/data/processed/.user_id (taskclf's)",
            ("collect", "label", "ui"),
            example="6f1c2a9e-8b7d-4c3e-9a21-0d5e4f3b2a10",
        ),
        Key(
            "collect_interval_seconds",
            "float",
            30.0,
            "how often the collector polls ActivityWatch",
            ("collect",),
            gt=0,
        ),
        Key(
            "collect_settle_seconds",
            "float",
            60.0,
            "the collector writes a minute once the events that start in it ended this long ago",
            ("collect",),
            ge=0,
        ),
        Key(
            "aw_write_labels",
            "bool",
            False,
            "the collector also writes the label log's segments into ActivityWatch, as the "
            "bucket taskclf-labels_<aw_hostname>, so that its Timeline shows the task types",
            ("collect",),
        ),
        # the labelling page (`taskclf-daemon ui`, docs/ui.md)
        Key(
            "ui_port",
            "int",
            0,
            "the port the labelling page is served on, at 127.0.0.1 only; 0: a free one",
            ("ui",),
            ge=0,
            le=65535,
            spellings=("--port",),
        ),
        Key(
            "label_max_asks_per_day",
            "int",
            20,
            "the page asks about at most this many uncertain stretches a (local) day; an "
            "answer and a skip both count (taskclf's active-learning limit)",
            ("ui",),
            ge=0,
            le=10_000,
        ),
    )
}

# what a policy_file binds: setting one of these with it is refused
POLICY_BINDS: Final = ("model_dir", "calibrator_store", "reject_threshold")
# the collector's own keys (setting one means this user runs the collector)
COLLECTOR_KEYS: Final = tuple(k.name for k in KEYS.values() if k.readers == ("collect",))
# the commands that take a --key-name flag for each key they read (doctor: every key);
# `label`, `deploy` and the others read the file and TASKCLF_* only
FLAG_COMMANDS: Final = (
    "run",
    "status",
    "reload",
    "doctor",
    "report",
    "collect",
    "personalize",
    "ui",
    "label",
    "retrain",
)

# TASKCLF_* variables that are not settings of ours: taskclf's own (its home, UI, tray and
# Electron launcher), which people who run taskclf beside the daemon have set; the others
# are typos, reported like an unknown key in the file
OTHER_VARIABLES: Final = frozenset(
    {
        "TASKCLF_HOME",
        "TASKCLF_AW_HOST",
        "TASKCLF_PORT",
        "TASKCLF_DEV_PORT",
        "TASKCLF_POLL_SECONDS",
        "TASKCLF_TITLE_SALT",
        "TASKCLF_TRANSITION_MINUTES",
        "TASKCLF_UI_DATA_DIR",
        "TASKCLF_UI_DEV",
        "TASKCLF_MANIFEST_URL",
        "TASKCLF_MANIFEST_TIMEOUT_MS",
    }
)
_OTHER_PREFIXES: Final = ("TASKCLF_ELECTRON_",)
_VARIABLES: Final = frozenset(ENV_PREFIX + name.upper() for name in KEYS)


def default_number(key: str) -> float:
    """The default of a number key, typed (for the readers that need one without Settings)."""
    value = KEYS[key].default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} has no number default")
    return float(value)


def env_name(key: str) -> str:
    """``spool_dir`` → ``TASKCLF_SPOOL_DIR``."""
    return ENV_PREFIX + key.upper()


def is_known_variable(name: str) -> bool:
    """Whether a ``TASKCLF_*`` variable is one of ours or one of taskclf's own."""
    return name in _VARIABLES or name in OTHER_VARIABLES or name.startswith(_OTHER_PREFIXES)


def flags(key: str) -> tuple[str, ...]:
    """The command-line spellings of ``key``, the preferred one first (``--model``)."""
    return (*KEYS[key].spellings, "--" + key.replace("_", "-"))


def suggest_key(key: str) -> str | None:
    """The key ``key`` was probably meant to be (difflib), or None."""
    import difflib  # only when there is a typo to name

    close = difflib.get_close_matches(key.lower(), list(KEYS), n=1, cutoff=0.6)
    return close[0] if close else None


def suggest_variable(name: str) -> str | None:
    """The variable ``name`` (a ``TASKCLF_*`` one that is not ours) was probably meant to be."""
    key = suggest_key(name.removeprefix(ENV_PREFIX))
    return env_name(key) if key is not None else None


_VAR: Final = re.compile(r"\$(?:\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand_path(value: str | Path) -> str:
    """``~`` and ``$VAR``/``${VAR}`` expanded; a variable that is not set is an error."""
    text = os.fspath(value)
    missing = [a or b for a, b in _VAR.findall(text) if (a or b) not in os.environ]
    if missing:
        raise ValueError(
            f"${missing[0]} is not set in the environment (in {text!r}); set it, or write "
            "the path out"
        )
    return os.path.expanduser(os.path.expandvars(text))


def parse_path(value: object) -> Path:
    """A path key's value from any layer: ``~`` and ``$VARS`` expanded; ValueError if it is
    not a path (the one rule for the validating settings and the cheap readers alike)."""
    if isinstance(value, Path):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a path, got {value!r}")
    if not value.strip():
        raise ValueError(f"expected a path, got {value!r} (empty: remove the key for its default)")
    return Path(expand_path(value))
