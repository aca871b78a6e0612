"""A real SMTP server for the mail tests (aiosmtpd): every message it accepts is parsed by
Python's email package and written to OUT_DIR as JSON (headers, text and HTML parts), so
the tests read what an independent mail reader makes of what cflows sent.

    python3 sink.py PORT OUT_DIR [starttls|tls CERT KEY USER PASSWORD]

With `starttls` the server requires STARTTLS and then AUTH as USER/PASSWORD before any
mail; with `tls` it speaks TLS from the first byte (implicit TLS, as on port 465) and
requires AUTH. Each record notes whether the message came over TLS and who logged in.

Recipients at `bounce.test` are refused permanently (550); at `later.test` the first
attempt of each message is refused for now (451).

A calendar message's `text/calendar` part (and its `invite.ics` attachment) is read by
Python's `icalendar` (an independent iCalendar reader): each VEVENT's UID, SEQUENCE,
STATUS, SUMMARY, attendees, and its DTSTART as written (TZID) and as an instant (UTC, by
the zone's name) are recorded under "calendar".
"""

import asyncio
import email
import email.policy
import json
import os
import sys
import uuid
import warnings

import icalendar
import ssl

from aiosmtpd.smtp import AuthResult, LoginPassword

from aiosmtpd.controller import Controller

# With implicit TLS the whole connection is encrypted, which aiosmtpd's "AUTH without
# STARTTLS" warnings do not know; the deprecation notes are aiosmtpd's own.
warnings.filterwarnings("ignore")

seen_later = set()


class Sink:
    def __init__(self, out):
        self.out = out

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@bounce.test"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        key = msg["Message-ID"]
        if any(r.endswith("@later.test") for r in envelope.rcpt_tos) and key not in seen_later:
            seen_later.add(key)
            return "451 4.3.0 try again later"
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        record = {
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "message_id": str(msg["Message-ID"]),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
            "headers": {k: str(v) for k, v in msg.items()},
            "rcpt": list(envelope.rcpt_tos),
            "calendar": calendar_parts(msg),
            # STARTTLS sets session.ssl; implicit TLS shows on the transport.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "login": login_of(session),
        }
        name = os.path.join(self.out, f"{uuid.uuid4().hex}.json")
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return "250 Message accepted"


def login_of(session):
    """Who logged in (AUTH) on this connection, if anyone."""
    data = getattr(session, "auth_data", None)
    if isinstance(data, LoginPassword):
        return data.login.decode()
    return None


def calendar_parts(msg):
    """The iCalendar objects in the message, as icalendar reads them."""
    out = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind not in ("text/calendar", "application/ics"):
            continue
        raw = part.get_payload(decode=True).decode("utf-8")
        cal = icalendar.Calendar.from_ical(raw)
        events = []
        for ev in cal.walk("VEVENT"):
            start = ev.decoded("DTSTART")
            tzid = ev["DTSTART"].params.get("TZID")
            attendees = ev.get("ATTENDEE", [])
            if not isinstance(attendees, list):
                attendees = [attendees]
            events.append({
                "uid": str(ev["UID"]),
                "sequence": int(ev.get("SEQUENCE", 0)),
                "status": str(ev.get("STATUS", "")),
                "summary": str(ev.get("SUMMARY", "")),
                "tzid": tzid,
                "start_utc": start.astimezone(__import__("datetime").timezone.utc).isoformat()
                if hasattr(start, "astimezone") and getattr(start, "tzinfo", None) else str(start),
                "organizer": str(ev.get("ORGANIZER", "")),
                "attendees": [str(a) for a in attendees],
                "partstats": [a.params.get("PARTSTAT") for a in attendees],
            })
        out.append({
            "content_type": kind,
            "method": part.get_param("method") or str(cal.get("METHOD", "")),
            "ics_method": str(cal.get("METHOD", "")),
            "timezones": [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")],
            "events": events,
            "filename": part.get_filename(),
        })
    return out


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    options = {}
    if len(sys.argv) > 3:
        mode, cert, key, user, password = sys.argv[3:8]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok, auth_data=auth_data)

        options = {"authenticator": authenticator, "auth_required": True}
        if mode == "starttls":
            options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        else:
            options.update(ssl_context=context, auth_require_tls=False)
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port, **options)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
