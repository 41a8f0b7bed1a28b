"""Signs a message with a key file and verifies it with python3-dkim (dkimpy), an independent implementation.

Usage: python3 dkim-sign-verify.py JSON_ARGS
  JSON_ARGS: {"zone": "<name>. IN TXT \"...\" \"...\"", "keyFile": PATH, "algorithm": "rsa"|"ed25519",
              "domain": D, "selector": S, "message": TEXT, "tamper": BOOL}

The key file is in the form rspamd reads (RSA PEM; ed25519 base64 of seed and public key). Verification looks
the key up through a dnsfunc that answers only the zone line's name, with the zone line's character strings
joined, exactly as a resolver hands a TXT record to a verifier. Prints one JSON object:
{"verified": BOOL, "asked": [NAMES], "signature": HEADER}.
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
    name, record = record_of(args['zone'])
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
    signed = signature + message
    if args['tamper']:
        signed = signed.replace(b'Hello', b'Jello')
    asked = []

    def dnsfunc(qname, timeout=5):
        asked.append(qname.decode())
        return record.encode() if qname.decode() == name else None

    verified = dkim.verify(signed, dnsfunc=dnsfunc)
    print(json.dumps({'verified': verified, 'asked': asked, 'signature': signature.decode()}))


if __name__ == '__main__':
    main()
