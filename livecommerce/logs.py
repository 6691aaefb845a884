"""Structured logging that cannot print secrets.

Every record passes a redaction filter: values of keys that look secret (password, token,
secret, key, authorization, card) are replaced, and token-shaped strings inside messages are
masked, so a careless ``log.info("%s", headers)`` cannot leak a bearer token or stream key.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

_SECRET_KEY = re.compile(
    r"pass|token|secret|authorization|cookie|stream_key|api_key|card|csrf", re.I
)
_SECRET_VALUE = re.compile(
    r"(lct_|sk_|whsec_|sk_live_|sk_test_|rk_live_|rk_test_)[A-Za-z0-9_\-]{6,}|"
    r"(Bearer\s+)[A-Za-z0-9_\-\.]{6,}|\b\d{13,19}\b"
)
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def redact(value: Any, key: str = "") -> Any:
    """Mask secret-looking keys and token-shaped substrings, recursively."""
    if key and _SECRET_KEY.search(key):
        return "[redacted]"
    if isinstance(value, str):
        return _SECRET_VALUE.sub(lambda m: (m.group(2) or m.group(1) or "") + "[redacted]", value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str | dict | list) else a for a in args)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD:
                setattr(record, name, redact(value, name))
        return True


class MalformedRequestFilter(logging.Filter):
    """A malformed request (an 8 KB+ URL, a broken header) is the client's fault and already
    answered 400 by aiohttp's parser: one INFO line naming the problem, not an ERROR with a
    traceback that quotes the client's bytes (a log-flooding and log-injection vector)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if record.name == "aiohttp.server" and type(exc).__module__ == "aiohttp.http_exceptions":
            record.msg, record.args = "refused a malformed HTTP request (%s)", (type(exc).__name__,)
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class OneLineFormatter(logging.Formatter):
    """The text format: one record is one line. Client-controlled text in a message (a chat
    line, a header, a path) could otherwise carry CR/LF and forge whole log lines; only the
    traceback the formatter appends after an exception spans lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        return line.replace("\r", "\\r").replace("\n", "\\n")


def handler(fmt: str, stream: Any = None) -> logging.Handler:
    """The production handler (redaction, malformed-request folding, the chosen format), also
    what the test suite's log scan (RB-24) attaches, so it scans what production would write."""
    out = logging.StreamHandler(stream if stream is not None else sys.stderr)
    out.addFilter(MalformedRequestFilter())
    out.addFilter(RedactingFilter())
    out.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    return out


#: Libraries whose DEBUG records are noise or worse: aiosqlite logs every statement with its
#: parameters (e-mail addresses, chat text, password hashes), aioice/aiortc every ICE packet.
QUIET_LIBRARIES = ("aioice", "aiortc", "aiosqlite")


def quiet_libraries(level: str | int) -> None:
    """Hold the chatty libraries at INFO or above whatever the process's level is."""
    floor = max(logging.INFO, logging.getLevelName(level) if isinstance(level, str) else level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(floor)


def configure(level: str, fmt: str) -> None:
    """Install one stderr handler with redaction for the whole process."""
    root = logging.getLogger()
    root.handlers[:] = [handler(fmt)]
    root.setLevel(level)
    quiet_libraries(level)
