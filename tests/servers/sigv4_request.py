#!/usr/bin/env python3
"""Send one AWS Signature V4 signed HTTP request (stdlib only).

Helper for tests/servers/swift_s3.sh and tests/servers/moto_s3.sh (readiness
probes, moto IAM bootstrap).  Works with any python3 >= 3.6, no botocore.

usage: sigv4_request.py [options] METHOD URL
  --access KEY       access key id         (default: $AWS_ACCESS_KEY_ID)
  --secret SECRET    secret access key     (default: $AWS_SECRET_ACCESS_KEY)
  --region REGION    signing region        (default: $AWS_DEFAULT_REGION or us-east-1)
  --service NAME     signing service       (default: s3)
  --data STRING      request body (utf-8)
  --header 'K: V'    extra header, signed (repeatable)
  --timeout SECONDS  socket timeout        (default: 10)

Prints the response body on stdout and "HTTP <status>" on stderr.
Exit status: 0 for 2xx, 1 for any other HTTP status, 2 for connection errors.
The URL path must already be URI-encoded (it is signed as given).
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import os
import sys
import urllib.parse


def _quote(s):
    return urllib.parse.quote(s, safe="-_.~")


def _canonical_query(query):
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return "&".join("%s=%s" % (_quote(k), _quote(v)) for k, v in sorted(pairs))


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def main():
    ap = argparse.ArgumentParser(add_help=True)
    ap.add_argument("method")
    ap.add_argument("url")
    ap.add_argument("--access", default=os.environ.get("AWS_ACCESS_KEY_ID", ""))
    ap.add_argument("--secret", default=os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    ap.add_argument("--region",
                    default=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    ap.add_argument("--service", default="s3")
    ap.add_argument("--data", default="")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args()

    u = urllib.parse.urlsplit(a.url)
    if u.scheme != "http":
        sys.exit("sigv4_request.py: only http:// URLs are supported")
    body = a.data.encode("utf-8")
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()

    headers = {"host": u.netloc, "x-amz-date": amz_date,
               "x-amz-content-sha256": payload_hash}
    for h in a.header:
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    signed = sorted(headers)
    canonical = "\n".join([
        a.method.upper(),
        u.path or "/",
        _canonical_query(u.query),
        "".join("%s:%s\n" % (k, " ".join(headers[k].split())) for k in signed),
        ";".join(signed),
        payload_hash,
    ])
    scope = "%s/%s/%s/aws4_request" % (day, a.region, a.service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(("AWS4" + a.secret).encode("utf-8"), day)
    for part in (a.region, a.service, "aws4_request"):
        key = _hmac(key, part)
    sig = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
        % (a.access, scope, ";".join(signed), sig))

    target = (u.path or "/") + ("?" + u.query if u.query else "")
    try:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                          timeout=a.timeout)
        conn.request(a.method.upper(), target, body=body or None,
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    except (OSError, http.client.HTTPException) as e:
        sys.stderr.write("sigv4_request.py: %s %s: %s\n" % (a.method, a.url, e))
        return 2
    sys.stdout.write(data.decode("utf-8", "replace"))
    sys.stdout.flush()
    sys.stderr.write("HTTP %d\n" % resp.status)
    return 0 if 200 <= resp.status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
