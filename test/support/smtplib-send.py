"""Sends one message with Python's smtplib, as an ordinary SMTP client does (EHLO, MAIL FROM with SIZE= when offered).

Argument: JSON {host, port, sender, recipients, body_bytes, message_id}. Prints JSON: {"refused": {rcpt: [code, text]},
"accepted": bool, "error": text or null}.
"""
import json
import smtplib
import sys

args = json.loads(sys.argv[1])
body = ("x" * 76 + "\r\n") * (args["body_bytes"] // 78 + 1)
msg = (
    f"From: <{args['sender']}>\r\nTo: <{args['recipients'][0]}>\r\nSubject: quota\r\n"
    f"Message-ID: <{args['message_id']}>\r\n\r\n{body}"
)
out = {"refused": {}, "accepted": False, "error": None}
try:
    with smtplib.SMTP(args["host"], args["port"], local_hostname="client.test", timeout=30) as smtp:
        refused = smtp.sendmail(args["sender"], args["recipients"], msg)
        out["refused"] = {r: [c, t.decode("latin1")] for r, (c, t) in refused.items()}
        out["accepted"] = True
except smtplib.SMTPRecipientsRefused as e:
    out["refused"] = {r: [c, t.decode("latin1")] for r, (c, t) in e.recipients.items()}
except smtplib.SMTPException as e:
    out["error"] = repr(e)
print(json.dumps(out))
