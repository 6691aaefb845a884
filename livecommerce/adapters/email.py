"""SmtpMailer: notification e-mails over SMTP with the standard library's smtplib, run in a
worker thread so the event loop never waits on the mail server.

Each message has a text and an HTML part rendered from ``web/templates/email/`` (the HTML one
autoescaped: titles are sellers' text), its own Message-ID (the delivery's, so a repeat is
recognisable), and the RFC 8058 one-click unsubscribe headers for its kind. ``notify.smtp_url``
is ``smtp://[user:password@]host:port`` (``smtps://`` for TLS from the start, ``?starttls=1``
to upgrade); empty turns e-mail off.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import jinja2

from livecommerce.domain.notifications import Content, Kind
from livecommerce.errors import AdapterError


class SmtpMailer:
    def __init__(self, smtp_url: str, sender: str, templates: Path, timeout: float = 10.0) -> None:
        self._url = urlsplit(smtp_url) if smtp_url else None
        if self._url is not None and self._url.scheme not in ("smtp", "smtps"):
            raise ValueError("notify.smtp_url must start with smtp:// or smtps://")
        self._sender = sender
        self._timeout = timeout
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
        )

    @property
    def enabled(self) -> bool:
        return self._url is not None

    def render(
        self,
        *,
        to: str,
        name: str,
        kind: Kind,
        content: Content,
        base_url: str,
        unsubscribe_url: str,
        message_id: str,
    ) -> EmailMessage:
        """The message as it goes out (public for the tests that read what arrives)."""
        values = {
            "name": name,
            "kind": str(kind),
            "title": content.title,
            "body": content.body,
            "url": base_url + content.url,
            "unsubscribe_url": unsubscribe_url,
        }
        msg = EmailMessage()
        msg["Subject"] = content.title
        msg["From"] = self._sender
        msg["To"] = formataddr((name, to))
        domain = urlsplit(base_url).hostname or "localhost"
        msg["Message-ID"] = f"<{message_id}@{domain}>"
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(self._env.get_template("notification.txt").render(values))
        msg.add_alternative(
            self._env.get_template("notification.html").render(values), subtype="html"
        )
        return msg

    async def send(
        self,
        *,
        to: str,
        name: str,
        kind: Kind,
        content: Content,
        base_url: str,
        unsubscribe_url: str,
        message_id: str,
    ) -> None:
        msg = self.render(
            to=to,
            name=name,
            kind=kind,
            content=content,
            base_url=base_url,
            unsubscribe_url=unsubscribe_url,
            message_id=message_id,
        )
        try:
            await asyncio.to_thread(self._send, msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise AdapterError("the mail server did not take the message") from exc

    def _send(self, msg: EmailMessage) -> None:
        url = self._url
        if url is None:
            return
        host, port = url.hostname or "127.0.0.1", url.port
        smtp: smtplib.SMTP
        if url.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(host, port or 465, timeout=self._timeout)
        else:
            smtp = smtplib.SMTP(host, port or 25, timeout=self._timeout)
        with smtp:
            if parse_qs(url.query).get("starttls") == ["1"]:
                smtp.starttls(context=ssl.create_default_context())
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(msg)
