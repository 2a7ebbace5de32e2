"""Tests of klog-compatible log lines and verbosity."""

from __future__ import annotations

import io
import logging
import os
import re

import pytest

from edgemc.runtime import logging as klog

LINE = re.compile(
    r"^(?P<sev>[IWEF])(?P<mmdd>\d{4}) (?P<time>\d\d:\d\d:\d\d\.\d{6}) (?P<pid>[ \d]{7}) "
    r"(?P<file>[\w.]+):(?P<line>\d+)\] (?P<rest>.*)$"
)


@pytest.fixture
def output():
    buf = io.StringIO()
    old = klog.verbosity()
    klog.configure(2, buf)
    yield buf
    klog.configure(old, io.StringIO())
    for h in list(logging.getLogger().handlers):
        if getattr(h, "_edgemc_klog", False):
            logging.getLogger().removeHandler(h)


def lines(buf: io.StringIO) -> list[str]:
    return buf.getvalue().splitlines()


def test_header_and_structured_pairs(output: io.StringIO) -> None:
    log = klog.get_logger("test.klog")
    log.info("Created APIBinding", worker=1, name="x")
    (line,) = lines(output)
    m = LINE.match(line)
    assert m, line
    assert m["sev"] == "I"
    assert int(m["pid"]) == os.getpid() and len(m["pid"]) == 7
    assert m["file"] == "test_logging.py"
    assert m["rest"] == '"Created APIBinding" worker=1 name="x"'


def test_caller_line_through_v(output: io.StringIO) -> None:
    log = klog.get_logger("test.klog")
    log.v(2).info("a")
    here = test_caller_line_through_v.__code__.co_firstlineno + 2
    log.v(3).info("hidden")
    (line,) = lines(output)
    assert LINE.match(line)["line"] == str(here)


def test_verbosity_as_klog_counts(output: io.StringIO) -> None:
    log = klog.get_logger("test.klog")
    assert log.v(2).enabled and not log.v(3)
    log.v(0).info("v0")
    log.v(2).info("v2")
    log.v(3).info("v3")
    assert [LINE.match(x)["rest"] for x in lines(output)] == ['"v0"', '"v2"']


def test_error_warning_and_with_values(output: io.StringIO) -> None:
    log = klog.get_logger("test.klog").with_values(controller="mailbox")
    log.error("Failed to sync", ValueError('bad "thing"'), key="c|n")
    log.warning("slow", seconds=1.5)
    first, second = lines(output)
    assert LINE.match(first)["sev"] == "E"
    assert LINE.match(first)["rest"] == (
        '"Failed to sync" controller="mailbox" err="bad \\"thing\\"" key="c|n"'
    )
    assert LINE.match(second)["sev"] == "W"
    assert LINE.match(second)["rest"] == '"slow" controller="mailbox" seconds=1.5'


def test_plain_stdlib_records_get_the_header(output: io.StringIO) -> None:
    logging.getLogger("some.lib").warning("plain %s", "text")
    (line,) = lines(output)
    assert LINE.match(line)["rest"] == "plain text"
    assert line.startswith("W")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", '"x"'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("tab\tnl\n", '"tab\\tnl\\n"'),
        ("\x00\x7f", '"\\x00\\x7f"'),
        ("héllo ☃", '"héllo ☃"'),
        ("\u200b", '"\\u200b"'),
        ("\U000e0001", '"\\U000e0001"'),
        (True, "true"),
        (None, "<nil>"),
        (3, "3"),
        (1.5, "1.5"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5e-7, "-2.5e-07"),
        ({"a": [1]}, '{"a":[1]}'),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert klog.format_value(value) == text
