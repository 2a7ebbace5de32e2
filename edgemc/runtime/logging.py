"""klog-compatible structured logging on top of the standard library's `logging`.

Lines look like klog's text format::

    I0423 01:09:38.449395   10624 controller.py:299] "Created APIBinding" worker=1 name="x"

severity letter (I/W/E/F), MMDD, local time with microseconds, the process id right-aligned
in 7 columns, the caller's file:line, then the message and key=value pairs. Strings (and
objects rendered through `str`, like keys) are quoted with Go's `%q` rules, numbers and bools
are bare, None is `<nil>`, dicts and lists are compact JSON.

Verbosity is counted as klog counts it: `log.v(2).info(...)` is written only when the
process runs with `-v=2` or more; plain `info`, `warning` and `error` are always written.
Records from other libraries' stdlib loggers get the same header with their message as is.
"""

from __future__ import annotations

import datetime
import logging
import sys
from decimal import Decimal
from typing import IO, Any

import orjson

_verbosity = 0


def set_verbosity(level: int) -> None:
    """Set the process-wide klog verbosity (`-v=N`)."""
    global _verbosity
    _verbosity = int(level)


def verbosity() -> int:
    return _verbosity


# -- value rendering --------------------------------------------------------------------

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def go_quote(s: str) -> str:
    """Quote `s` as Go's strconv.Quote (`%q`) does."""
    if s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o <= 0xDFFF:  # a lone surrogate is invalid UTF-8 in Go: U+FFFD
            out.append("\\ufffd")
        elif ch.isprintable():
            out.append(ch)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def go_float(x: float) -> str:
    """A float as Go's `%v` prints it (shortest digits; exponent form beyond 1e-4..1e6)."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if str(x).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(x)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    exp10 = len(text) + exponent - 1
    minus = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if exponent >= 0:
        return minus + text + "0" * exponent
    point = len(text) + exponent
    if point > 0:
        return f"{minus}{text[:point]}.{text[point:]}"
    return f"{minus}0.{'0' * -point}{text}"


def format_value(value: Any) -> str:
    """One value of a key=value pair, as klog's text format writes it."""
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bytes):
        return go_quote(value.decode("utf-8", "replace"))
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value, default=str).decode()
    return go_quote(str(value))


def format_pairs(pairs: dict[str, Any]) -> str:
    return "".join(f" {k}={format_value(v)}" for k, v in pairs.items())


# -- stdlib integration -----------------------------------------------------------------

_SEVERITY = ((logging.CRITICAL, "F"), (logging.ERROR, "E"), (logging.WARNING, "W"))


class KlogFormatter(logging.Formatter):
    """Formats any stdlib record as a klog line; structured records quote their message."""

    def format(self, record: logging.LogRecord) -> str:
        letter = next((s for lvl, s in _SEVERITY if record.levelno >= lvl), "I")
        t = datetime.datetime.fromtimestamp(record.created)
        header = (
            f"{letter}{t:%m%d %H:%M:%S}.{t.microsecond:06d} {record.process:7d} "
            f"{record.filename}:{record.lineno}]"
        )
        pairs = getattr(record, "klog_pairs", None)
        if pairs is None:
            line = f"{header} {record.getMessage()}"
        else:
            line = f"{header} {go_quote(record.msg)}{format_pairs(pairs)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: int = 0, stream: IO[str] | None = None) -> None:
    """Send every log record to `stream` (default stderr) as klog lines, at verbosity `level`."""
    set_verbosity(level)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_edgemc_klog", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KlogFormatter())
    handler._edgemc_klog = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)


# -- the structured logger --------------------------------------------------------------


class Logger:
    """A logr/klog-style logger: a message plus key=value pairs, with `v(n)` levels."""

    __slots__ = ("_logger", "_values")

    def __init__(self, logger: logging.Logger, values: dict[str, Any] | None = None) -> None:
        self._logger = logger
        self._values = values or {}

    def with_values(self, **values: Any) -> Logger:
        """A logger that adds these pairs (before the call's own) to every line."""
        return Logger(self._logger, {**self._values, **values})

    def with_name(self, name: str) -> Logger:
        return Logger(self._logger.getChild(name), self._values)

    def v(self, level: int) -> Verbose:
        """Lines at klog verbosity `level`: written only when `-v` >= level."""
        return Verbose(self, _verbosity >= level)

    def info(self, msg: str, **values: Any) -> None:
        self._log(logging.INFO, msg, values)

    def warning(self, msg: str, **values: Any) -> None:
        self._log(logging.WARNING, msg, values)

    def error(self, msg: str, err: BaseException | str | None = None, **values: Any) -> None:
        """klog's ErrorS: `E... "msg" err="..." k=v`; `exc_info=True` appends a traceback."""
        exc_info = values.pop("exc_info", False)
        if err is not None:
            values = {"err": err, **values}
        self._log(logging.ERROR, msg, values, exc_info=exc_info)

    def _log(self, level: int, msg: str, values: dict[str, Any], exc_info: Any = False) -> None:
        # stacklevel 3: past _log and the public method, to the caller's file:line.
        if self._logger.isEnabledFor(level):
            pairs = {**self._values, **values} if self._values else values
            self._logger.log(
                level, msg, stacklevel=3, exc_info=exc_info, extra={"klog_pairs": pairs}
            )


class Verbose:
    """The result of `Logger.v(n)`: logs at info severity when enabled, else nothing."""

    __slots__ = ("_enabled", "_logger")

    def __init__(self, logger: Logger, enabled: bool) -> None:
        self._logger = logger
        self._enabled = enabled

    @property
    def enabled(self) -> bool:
        return self._enabled

    def __bool__(self) -> bool:
        return self._enabled

    def info(self, msg: str, **values: Any) -> None:
        if self._enabled:
            self._logger._log(logging.INFO, msg, values)

    def error(self, msg: str, err: BaseException | str | None = None, **values: Any) -> None:
        if self._enabled:
            if err is not None:
                values = {"err": err, **values}
            self._logger._log(logging.ERROR, msg, values)


def get_logger(name: str = "edgemc", **values: Any) -> Logger:
    """The structured logger called `name`, with optional constant key=value pairs."""
    return Logger(logging.getLogger(name), values or None)
