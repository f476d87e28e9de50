"""The page's answers: each endpoint as a method from parsed input to JSON (no HTTP here).

Errors are :class:`ApiError` (an HTTP status, a message a person reads, and extra fields);
the server turns them into JSON responses. Spans go through :mod:`daemon.spanfile`, the
code `label add` uses; the day comes from the report's model (:mod:`daemon.ui.day`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from daemon.localtz import local_timezone
from daemon.paths import spans_file, ui_asks_file
from daemon.spanfile import add_span, remove_span
from daemon.ui.asks import AskBook, day_queue, queue_json
from daemon.ui.day import day_json, label_json, span_json, summaries_for
from daemon.ui.glance import drifting_users, glance
from daemon.ui.learn import Busy, Learning, NeedsDryRun
from daemon.ui.live import files_key
from taskclf_core.errors import SpanError, WindowError
from taskclf_core.ids import is_safe_user_id
from taskclf_core.schema import format_ts, parse_ts
from taskclf_core.spans import LabelSpan, SpanOverlap, parse_span
from taskclf_core.timerange import day_in_range

if TYPE_CHECKING:
    from daemon.config.settings import Settings
    from taskclf_core.asks import Ask

__all__ = ["ApiError", "Page"]

PROVENANCE: Final = "manual"  # a span you drew or chose a label for (taskclf's tray says so)
ACCEPTED: Final = "suggestion"  # the model's guess, accepted as it was (taskclf's word)


class ApiError(Exception):
    """A request the page cannot do: HTTP status, a message for people, extra JSON fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


def _text(body: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"{key}: expected a non-empty string")
    return value.strip()


class Page:
    """Everything the page asks, answered from the files this configuration names."""

    def __init__(
        self,
        settings: Settings,
        learning: Learning,
        *,
        tz: Callable[[], tzinfo] = local_timezone,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.learning = learning
        self.book = AskBook(ui_asks_file(settings.data_dir))
        self._tz = tz
        self._clock = clock
        self._default: tuple[str, str] | None = None
        self._default_lock = threading.Lock()

    def tz(self) -> tzinfo:
        """The local zone, read at each request (as `label` and `report` read it)."""
        return self._tz()

    # --- whose day, which day -------------------------------------------------------------

    def _day(self, query: Mapping[str, str], tz: tzinfo, now: datetime) -> date:
        text = query.get("date")
        if not text or text == "today":
            return now.astimezone(tz).date()
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ApiError(400, f"date: expected YYYY-MM-DD, got {text[:40]!r}") from None
        if not day_in_range(day):
            raise ApiError(400, f"date: {day} is outside the supported times (2000 to 2099)")
        return day

    def default_user(self) -> tuple[str, str] | None:
        """``label add``'s user when none is named (cached once found), or None."""
        from daemon.collector.identity import default_user

        with self._default_lock:
            if self._default is None:
                try:
                    self._default = default_user(self.settings)
                except SpanError:
                    return None
            return self._default

    def _user(self, query: Mapping[str, str], users: list[str]) -> tuple[str | None, str]:
        named = query.get("user")
        if named:
            if not is_safe_user_id(named):
                raise ApiError(400, f"user: {named[:40]!r} is not a user id")
            return named, "chosen on the page"
        found = self.default_user()
        if found is not None:
            return found
        if users:
            return users[0], "the first user with windows that day"
        return None, "nobody: set collect_user_id (docs/configuration.md) to label your time"

    # --- reads ----------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        return {
            "labels": label_json(),
            "learn": [a.to_json() for a in self.learning.actions.values()],
            "timezone": getattr(self._tz(), "key", None),
        }

    def day(self, query: Mapping[str, str]) -> dict[str, Any]:
        tz, now = self._tz(), self._clock()
        day = self._day(query, tz, now)
        files = files_key(self.settings.data_dir, day, tz)  # before reading: a later write shows
        data = summaries_for(self.settings, tz).load([day])
        user, source = self._user(query, sorted({r.user_id for r in data.reports}))
        doc = day_json(self.settings, data, day, user=user, tz=tz, now=now)
        return {
            **doc,
            "user_source": source,
            "today": now.astimezone(tz).date().isoformat(),
            "files": files,
        }

    def _queue_for(self, query: Mapping[str, str]) -> tuple[Any, str | None, date, datetime]:
        tz, now = self._tz(), self._clock()
        day = self._day(query, tz, now)
        summaries = summaries_for(self.settings, tz)
        users = sorted({r.user_id for r in summaries.load([day]).reports})
        user, _ = self._user(query, users)
        if user is None:
            return None, None, day, now
        queue = day_queue(
            self.settings,
            summaries,
            self.book,
            day,
            user=user,
            now=now,
            drift_users=drifting_users(glance(self.settings)),
        )
        return queue, user, day, now

    def asks(self, query: Mapping[str, str]) -> dict[str, Any]:
        queue, user, day, _ = self._queue_for(query)
        if queue is None:
            return {"asks": [], "pending": 0, "served_today": 0, "remaining": 0, "user": None}
        return {**queue_json(queue), "user": user, "date": day.isoformat()}

    def status(self) -> dict[str, Any]:
        return glance(self.settings)

    # --- spans ----------------------------------------------------------------------------

    @property
    def spans_path(self) -> Path:
        return spans_file(self.settings.data_dir)

    def _add(self, span: LabelSpan) -> dict[str, Any]:
        try:
            added = add_span(self.spans_path, span)
        except SpanOverlap as exc:
            other = next((s for s in exc.spans if s.key != span.key), exc.spans[0])
            raise ApiError(409, str(exc), conflict=span_json(other)) from None
        except SpanError as exc:
            raise ApiError(400, str(exc)) from None
        return {
            "span": span_json(added.span),
            "replaced": None if added.replaced is None else span_json(added.replaced),
        }

    def add_span(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A span you drew: ``start``, ``end`` (ISO-8601), ``label``, ``user`` (optional)."""
        try:
            start = parse_ts(_text(body, "start"), "start")
            end = parse_ts(_text(body, "end"), "end")
        except WindowError as exc:
            raise ApiError(400, str(exc)) from None
        now = self._clock()
        if end > now:
            # as `label add`: only time that is over can be labelled (a span ahead of now would
            # label the windows that arrive later, unseen)
            raise ApiError(
                400,
                f"end: {format_ts(end)} is after now ({format_ts(now)}): only time that is "
                "over can be labelled; end the selection at now or earlier",
            )
        label = _text(body, "label")
        user = _text(body, "user", required=False)
        if user is None:
            found = self.default_user()
            if found is None:
                raise ApiError(
                    400, "user: nobody to label for: set collect_user_id, or pick a user"
                )
            user = found[0]
        if not is_safe_user_id(user):
            raise ApiError(400, f"user: {user[:40]!r} is not a user id")
        try:
            span = LabelSpan(start, end, str(label), PROVENANCE, user)
        except SpanError as exc:
            raise ApiError(400, str(exc)) from None
        return self._add(span)

    def _find_ask(self, body: Mapping[str, Any]) -> tuple[Ask, date]:
        ask_id = _text(body, "ask_id")
        query = {k: str(body[k]) for k in ("date", "user") if isinstance(body.get(k), str)}
        queue, _, _, now = self._queue_for(query)
        found = next((a for a in queue.asks if a.id == ask_id), None) if queue else None
        if found is None:
            raise ApiError(
                404, f"ask_id: {ask_id} is not asked now (answered, skipped or past the budget)"
            )
        return found, now.astimezone(self._tz()).date()

    def answer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Answer an ask: its stretch gets ``label`` (or the model's guess, ``accept``)."""
        ask, today = self._find_ask(body)
        label = _text(body, "label")
        provenance = ACCEPTED if label == ask.guess and body.get("accept") is True else PROVENANCE
        try:
            span = LabelSpan(ask.start, ask.end, str(label), provenance, ask.user_id)
        except SpanError as exc:
            raise ApiError(400, str(exc)) from None
        done = self._add(span)
        self.book.record(ask, "answered", today)
        return {**done, "ask_id": ask.id}

    def skip(self, body: Mapping[str, Any]) -> dict[str, Any]:
        ask, today = self._find_ask(body)
        self.book.record(ask, "skipped", today)
        return {"ask_id": ask.id, "skipped": True}

    def undo(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Take back exactly the span just added (``span`` as the add returned it), putting
        back the span it replaced (``replaced``); an answered ask (``ask_id``) is open again."""

        def read(key: str) -> LabelSpan | None:
            value = body.get(key)
            if value is None:
                return None
            if not isinstance(value, Mapping):
                raise ApiError(400, f"{key}: expected a span object")
            try:
                return parse_span(value)
            except SpanError as exc:
                raise ApiError(400, f"{key}: {exc}") from None

        span = read("span")
        if span is None:
            raise ApiError(400, "span: expected the span to take back")
        try:
            remove_span(self.spans_path, span, restore=read("replaced"))
        except SpanError as exc:
            raise ApiError(409, str(exc)) from None
        ask_id = _text(body, "ask_id", required=False)
        reopened = False
        if ask_id is not None:
            today = self._clock().astimezone(self._tz()).date()
            reopened = self.book.forget(ask_id, today)
        return {"removed": span_json(span), "reopened": reopened}

    # --- learning -------------------------------------------------------------------------

    def learn(self, name: str, step: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            if step == "dry-run":
                run = self.learning.dry_run(name)
            elif step == "ship":
                run = self.learning.ship(name, str(_text(body, "dry_run_id")))
            else:
                raise ApiError(404, f"no step {step!r} (dry-run, ship)")
        except KeyError:
            raise ApiError(404, f"no learning action {name!r}") from None
        except (Busy, NeedsDryRun) as exc:
            raise ApiError(409, str(exc)) from None
        return run.to_json()

    def stop(self) -> None:
        self.learning.stop()
