"""Stock Python mail clients over TLS, for the integration tests.

Usage: python3 tls-client.py ACTION JSON_ARGS
Prints one JSON object on stdout: what the server answered and which certificate it showed. Every TLS
connection verifies the server against args["ca"] and the name args["name"] (also sent as SNI), as a
mail client configured with that CA does. A step the server refuses is reported, not raised, so the test
can assert the refusal itself.

With args["proxy_from"] and args["client"] the client plays the load balancer: it connects from the
address proxy_from and sends a PROXY protocol v1 header naming `client` before anything else.

`hold` opens an IMAPS session, logs in, prints {"ready": ...} and waits for a line on stdin before it
uses the session again: the test replaces the certificate in between.
"""

import base64
import imaplib
import json
import poplib
import smtplib
import socket
import ssl
import sys

ACTION = sys.argv[1]
ARGS = json.loads(sys.argv[2])
HOST = ARGS["host"]
TIMEOUT_S = 20


def connect(port, timeout):
    """A TCP connection to the instance, behind a PROXY header when playing the load balancer."""
    source = ARGS.get("proxy_from")
    if source is None:
        return socket.create_connection((HOST, port), timeout)
    sock = socket.create_connection((HOST, port), timeout, source_address=(source, 0))
    sock.sendall(f"PROXY TCP4 {ARGS['client']} {HOST} 40000 {port}\r\n".encode())
    return sock


def context():
    ctx = ssl.create_default_context(cafile=ARGS["ca"])
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def peer(sock):
    """What the client saw of the server: the certificate's serial and names, the protocol and cipher."""
    der = sock.getpeercert(binary_form=True)
    cert = sock.getpeercert()
    return {
        "serial": (cert.get("serialNumber") or "").lstrip("0"),
        "names": [v for (k, v) in cert.get("subjectAltName", ()) if k == "DNS"],
        "der_bytes": len(der),
        "version": sock.version(),
        "cipher": sock.cipher()[0],
    }


def message(sender, to, mid, subject="tls"):
    return (
        f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n\r\nbody of {mid}\r\n"
    ).encode()


def smtp_reply(fn):
    try:
        code, text = fn()
        return {"code": code, "text": text.decode(errors="replace")}
    except smtplib.SMTPResponseException as e:
        return {"code": e.smtp_code, "text": e.smtp_error.decode(errors="replace")}


class Smtp(smtplib.SMTP):
    """Connects to the instance's address; STARTTLS then sends and verifies the name the client means."""
    def _get_socket(self, host, port, timeout):
        return connect(port, timeout)


def smtp():
    return Smtp(ARGS["name"], ARGS["port"], local_hostname="client.test", timeout=TIMEOUT_S)


def smtp_starttls():
    """Port 25: EHLO in plaintext, STARTTLS, then a message for a local account."""
    s = smtp()
    out = {"ehlo": s.ehlo()[0], "starttls_offered": s.has_extn("starttls")}
    out["starttls"] = smtp_reply(lambda: s.starttls(context=context()))
    out["peer"] = peer(s.sock)
    s.ehlo()
    refused = s.sendmail(ARGS["sender"], [ARGS["to"]], message(ARGS["sender"], ARGS["to"], ARGS["mid"]))
    out["refused"] = refused
    s.quit()
    return out


def submission():
    """Port 587: AUTH before STARTTLS (refused), then STARTTLS, AUTH and a message."""
    s = smtp()
    s.ehlo()
    out = {"auth_offered_before_tls": s.has_extn("auth"), "starttls_offered": s.has_extn("starttls")}
    out["auth_before_tls"] = smtp_reply(lambda: s.docmd("AUTH", "PLAIN " + plain_token()))
    out["mail_before_tls"] = smtp_reply(lambda: s.docmd("MAIL", "FROM:<" + ARGS["user"] + ">"))
    out["starttls"] = smtp_reply(lambda: s.starttls(context=context()))
    out["peer"] = peer(s.sock)
    s.ehlo()
    out["auth_offered_after_tls"] = s.has_extn("auth")
    out["login"] = smtp_reply(lambda: s.login(ARGS["user"], ARGS["password"]))
    out["refused"] = s.sendmail(ARGS["user"], [ARGS["to"]], message(ARGS["user"], ARGS["to"], ARGS["mid"]))
    s.quit()
    return out


def relay():
    """Port 587 without AUTH: MAIL before STARTTLS, then STARTTLS and a foreign recipient (a relay attempt)."""
    s = smtp()
    s.ehlo()
    out = {"mail_before_tls": smtp_reply(lambda: s.docmd("MAIL", "FROM:<" + ARGS["sender"] + ">"))}
    out["starttls"] = smtp_reply(lambda: s.starttls(context=context()))
    s.ehlo()
    out["mail"] = smtp_reply(lambda: s.docmd("MAIL", "FROM:<" + ARGS["sender"] + ">"))
    out["rcpt"] = smtp_reply(lambda: s.docmd("RCPT", "TO:<" + ARGS["to"] + ">"))
    s.quit()
    return out


def plain_token():
    return base64.b64encode(b"\0" + ARGS["user"].encode() + b"\0" + ARGS["password"].encode()).decode()


def submissions():
    """Port 465: TLS from the first byte, then AUTH and a message."""
    s = smtp_ssl()
    out = {"peer": peer(s.sock)}
    s.ehlo()
    out["login"] = smtp_reply(lambda: s.login(ARGS["user"], ARGS["password"]))
    out["refused"] = s.sendmail(ARGS["user"], [ARGS["to"]], message(ARGS["user"], ARGS["to"], ARGS["mid"]))
    s.quit()
    return out


def smtp_ssl():
    """SMTP_SSL to an address, verifying the name the client means (smtplib would use the address)."""
    class Client(smtplib.SMTP_SSL):
        def _get_socket(self, host, port, timeout):
            return self.context.wrap_socket(connect(port, timeout), server_hostname=ARGS["name"])
    return Client(ARGS["name"], ARGS["port"], local_hostname="client.test", timeout=TIMEOUT_S, context=context())


def imap_fetch(m):
    """Logs in, returns the raw header of the message with args["mid"] (or None)."""
    out = {"login": m.login(ARGS["user"], ARGS["password"])[0]}
    m.select("INBOX")
    typ, data = m.search(None, "HEADER", "Message-ID", ARGS["mid"]) if ARGS.get("mid") else ("OK", [b""])
    nums = data[0].split()
    out["found"] = len(nums)
    if nums:
        typ, msg = m.fetch(nums[0], "(BODY.PEEK[HEADER])")
        out["header"] = msg[0][1].decode(errors="replace")
    m.logout()
    return out


class Imap(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return connect(self.port, timeout)


class ImapSsl(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        return self.ssl_context.wrap_socket(connect(self.port, timeout), server_hostname=ARGS["name"])


def imap():
    """Port 143: LOGINDISABLED and LOGIN refused before STARTTLS; after it LOGIN and a fetch."""
    m = Imap(ARGS["name"], ARGS["port"], timeout=TIMEOUT_S)
    out = {"capabilities_before_tls": list(m.capabilities)}
    try:
        m.login(ARGS["user"], ARGS["password"])
        out["login_before_tls"] = "OK"
    except imaplib.IMAP4.error as e:
        out["login_before_tls"] = str(e)
    m.starttls(ssl_context=context())
    out["peer"] = peer(m.sock)
    out["capabilities_after_tls"] = list(m.capabilities)
    out.update(imap_fetch(m))
    return out


def imaps():
    m = ImapSsl(ARGS["name"], ARGS["port"], ssl_context=context(), timeout=TIMEOUT_S)
    out = {"peer": peer(m.sock)}
    out.update(imap_fetch(m))
    return out


class Pop3(poplib.POP3):
    def _create_socket(self, timeout):
        return connect(self.port, timeout)


class Pop3Ssl(poplib.POP3_SSL):
    def _create_socket(self, timeout):
        return self.context.wrap_socket(connect(self.port, timeout), server_hostname=ARGS["name"])


def pop3_login(p):
    out = {"user": p.user(ARGS["user"]).decode(), "pass": p.pass_(ARGS["password"]).decode()}
    out["count"] = p.stat()[0]
    p.quit()
    return out


def pop3():
    """Port 110: USER refused before STLS; after it USER/PASS."""
    p = Pop3(ARGS["name"], ARGS["port"], timeout=TIMEOUT_S)
    out = {"capa_before_tls": sorted(p.capa().keys())}
    try:
        out["user_before_tls"] = p.user(ARGS["user"]).decode()
    except poplib.error_proto as e:
        out["user_before_tls"] = e.args[0].decode(errors="replace")
    p.stls(context=context())
    out["peer"] = peer(p.sock)
    out.update(pop3_login(p))
    return out


def pop3s():
    p = Pop3Ssl(ARGS["name"], ARGS["port"], context=context(), timeout=TIMEOUT_S)
    out = {"peer": peer(p.sock)}
    out.update(pop3_login(p))
    return out


def hold():
    """An IMAPS session logged in before a certificate change and used after it."""
    m = ImapSsl(ARGS["name"], ARGS["port"], ssl_context=context(), timeout=TIMEOUT_S)
    before = peer(m.sock)
    m.login(ARGS["user"], ARGS["password"])
    m.select("INBOX")
    print(json.dumps({"ready": before}), flush=True)
    sys.stdin.readline()
    out = {"before": before, "noop": m.noop()[0], "after": peer(m.sock)}
    out["select"] = m.select("INBOX")[0]
    m.logout()
    return out


def hold_smtp():
    """A submission session on 465, logged in before a certificate change, that sends a message after it."""
    s = smtp_ssl()
    before = peer(s.sock)
    s.ehlo()
    s.login(ARGS["user"], ARGS["password"])
    print(json.dumps({"ready": before}), flush=True)
    sys.stdin.readline()
    out = {"before": before, "after": peer(s.sock)}
    out["refused"] = s.sendmail(ARGS["user"], [ARGS["to"]], message(ARGS["user"], ARGS["to"], ARGS["mid"]))
    s.quit()
    return out


ACTIONS = {
    "smtp-starttls": smtp_starttls,
    "submission": submission,
    "relay": relay,
    "submissions": submissions,
    "imap": imap,
    "imaps": imaps,
    "pop3": pop3,
    "pop3s": pop3s,
    "hold": hold,
    "hold-smtp": hold_smtp,
}

try:
    result = ACTIONS[ACTION]()
except Exception as e:  # the test asserts on it
    result = {"error": f"{type(e).__name__}: {e}"}
print(json.dumps(result), flush=True)
