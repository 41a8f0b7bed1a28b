"""Signs a message with a key file and verifies it with python3-dkim (dkimpy), an independent implementation.

Usage: python3 dkim-sign-verify.py JSON_ARGS
  JSON_ARGS: {"zones": ["<name>. IN TXT \"...\" \"...\"", ...], "tamper": BOOL, and either
              "signed": TEXT (a message signed elsewhere: only verified), or
              "keyFile": PATH, "algorithm": "rsa"|"ed25519", "domain": D, "selector": S, "message": TEXT}

The key file is in the form rspamd reads (RSA PEM; ed25519 base64 of seed and public key). Verification looks
the key up through a dnsfunc that answers only the zone lines' names, each with its character strings joined,
exactly as a resolver hands a TXT record to a verifier. Prints one JSON object:
{"verified": BOOL, "asked": [NAMES], "signature": HEADER or null}.
"""
import base64
import json
import re
import sys

import dkim


def record_of(zone):
    """The zone line's owner name and its TXT strings joined (master-file quoting undone)."""
    name = zone.split()[0]
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', zone)
    return name, ''.join(re.sub(r'\\(.)', r'\1', s) for s in strings)


def main():
    args = json.loads(sys.argv[1])
    records = dict(record_of(zone) for zone in args['zones'])
    signature = None
    if 'signed' in args:
        signed = args['signed'].encode()
    else:
        signature, signed = sign(args)
    if args['tamper']:
        signed = signed.replace(b'Hello', b'Jello')
    asked = []

    def dnsfunc(qname, timeout=5):
        asked.append(qname.decode())
        record = records.get(qname.decode())
        return None if record is None else record.encode()

    verified = dkim.verify(signed, dnsfunc=dnsfunc)
    print(json.dumps({'verified': verified, 'asked': asked, 'signature': None if signature is None else signature.decode()}))


def sign(args):
    """The DKIM-Signature header for the message, and the message with it."""
    with open(args['keyFile'], 'rb') as f:
        key = f.read()
    if args['algorithm'] == 'ed25519':
        # dkimpy takes the 32-byte seed, base64; rspamd's file holds seed and public key.
        key = base64.b64encode(base64.b64decode(key)[:32])
        algorithm = b'ed25519-sha256'
    else:
        algorithm = b'rsa-sha256'
    message = args['message'].encode()
    signature = dkim.sign(message, args['selector'].encode(), args['domain'].encode(), key,
                          signature_algorithm=algorithm, include_headers=[b'from', b'to', b'subject', b'date'])
    return signature, signature + message


if __name__ == '__main__':
    main()
