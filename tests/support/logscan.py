"""RB-24 for the whole run: every log record any test produces is also written the way
production writes it (`logs.handler`, JSON lines: redaction and all), and at the end of the
session the file is scanned. Card numbers, e-mail addresses, phone numbers, provider secrets,
stream keys, bearer tokens, Authorization/Cookie headers, lines forged with CR/LF, and
tracebacks no test asked for fail the run, naming the test that logged them.

A test that provokes a traceback on purpose (and asserts it) says so with
`@pytest.mark.expected_traceback`."""

from __future__ import annotations

import json
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pytest

from livecommerce import logs

#: Each pattern names something that must never reach a log.
PATTERNS: dict[str, re.Pattern[str]] = {
    "email address": re.compile(
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    ),
    "phone number": re.compile(r"\+\d{1,3}[ .-]?(?:\(?\d{1,4}\)?[ .-]?){2,5}\d{2,4}"),
    "provider secret": re.compile(
        r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{4,}|\bwhsec_[A-Za-z0-9]{4,}"
    ),
    "stream key": re.compile(r"\bsk_[A-Za-z0-9_-]{16,}"),
    "session token": re.compile(r"\blct_[A-Za-z0-9_-]{8,}"),
    "authorization header": re.compile(
        r"(?i)\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic)\s+\S"
    ),
    "cookie header": re.compile(r"(?i)\b(?:set-)?cookie[\"']?\s*[:=]\s*[\"']?lc_\w+="),
}
#: Card numbers start 2–6 (Mastercard, Amex/JCB, Visa, Discover) and run 14–19 digits; a run
#: starting 1 is a millisecond timestamp, of which one in ten passes Luhn by chance.
#: A run glued to letters is part of an id (`pi_ad38…36643531860026e` passes Luhn by chance).
_DIGIT_RUN = re.compile(r"(?<![\w.])[2-6](?:[ -]?\d){13,18}(?![\w.])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


#: Addresses that are nobody's personal data: the stripe library's own retry message names one.
NOT_PERSONAL = ("support@stripe.com",)


def findings(text: str) -> list[str]:
    """What in `text` must not be logged (pattern names, one per kind)."""
    for address in NOT_PERSONAL:
        text = text.replace(address, "")
    found = [name for name, pattern in PATTERNS.items() if pattern.search(text)]
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if luhn_valid(digits):
            found.append("card number")
            break
    return found


@dataclass
class Finding:
    test: str
    what: str
    line: str


def scan_lines(lines: list[str], expected_tracebacks: set[str]) -> list[Finding]:
    """Every record must be one JSON line (a second line is a forged record) and carry none of
    the patterns; an ERROR with a traceback counts unless its test expected one."""
    out: list[Finding] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            record: dict[str, Any] = json.loads(line)
        except ValueError:
            out.append(Finding("?", "a line that is not one whole record (CR/LF)", line))
            continue
        test = str(record.get("test") or "(session set-up)")
        text = json.dumps({k: v for k, v in record.items() if k != "test"}, ensure_ascii=False)
        out += [Finding(test, what, line) for what in findings(text)]
        failed = record.get("level") in {"error", "critical"}
        if record.get("exc") and failed and test not in expected_tracebacks:
            out.append(Finding(test, "a traceback no test expected", line))
    return out


class _CurrentTest(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.nodeid: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        record.test = self.nodeid
        return True


class LogScan:
    """The pytest plugin: one production handler on the root logger for the whole session."""

    def __init__(self) -> None:
        self.current = _CurrentTest()
        self.expected: set[str] = set()
        self.path: Path | None = None
        self.stream: TextIO | None = None
        self.handler: logging.Handler | None = None
        self.level = logging.WARNING

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        fd, name = tempfile.mkstemp(prefix="livecommerce-log-", suffix=".jsonl")
        self.path = Path(name)
        self.stream = open(fd, "w", encoding="utf-8")  # noqa: SIM115 why: open for the session
        self.handler = logs.handler("json", self.stream)
        # first, so the test id is on the record before redaction and formatting
        self.handler.filters.insert(0, self.current)
        root = logging.getLogger()
        self.level = root.level
        root.setLevel(min(root.level, logging.INFO))  # production's default level
        root.addHandler(self.handler)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        self.current.nodeid = item.nodeid
        if item.get_closest_marker("expected_traceback") is not None:
            self.expected.add(item.nodeid)
        try:
            return (yield)
        finally:
            self.current.nodeid = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.handler is None or self.stream is None or self.path is None:
            return
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self.level)
        self.stream.close()
        problems = scan_lines(self.path.read_text(encoding="utf-8").splitlines(), self.expected)
        self.path.unlink()
        if not problems:
            return
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.section("log scan (RB-24): what the server logged that it must not", red=True)
            for problem in problems[:50]:
                reporter.write_line(f"{problem.test}: {problem.what}: {problem.line[:400]}")
            if len(problems) > 50:
                reporter.write_line(f"... and {len(problems) - 50} more")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "expected_traceback: the test provokes (and asserts) an ERROR with a traceback",
    )
    config.pluginmanager.register(LogScan(), "livecommerce-logscan")
