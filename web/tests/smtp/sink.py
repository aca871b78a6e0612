"""A real SMTP server for the mail tests (aiosmtpd): every message it accepts is parsed by
Python's email package and written to OUT_DIR as JSON (headers, text and HTML parts), so
the tests read what an independent mail reader makes of what cflows sent.

    python3 sink.py PORT OUT_DIR

Recipients at `bounce.test` are refused permanently (550); at `later.test` the first
attempt of each message is refused for now (451).
"""

import asyncio
import email
import email.policy
import json
import os
import sys
import uuid

from aiosmtpd.controller import Controller

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
        }
        name = os.path.join(self.out, f"{uuid.uuid4().hex}.json")
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return "250 Message accepted"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
