#!/usr/bin/python3
"""A forwarding HTTP proxy on 127.0.0.1 that fails on purpose, in front of a real server.

  flaky_proxy.py TARGET_PORT MODE
      prints the port it listens on, then forwards every request to 127.0.0.1:TARGET_PORT
      with its bytes (and Host header) unchanged, so SigV4 signatures still hold. MODE:
        first503   the first try of each (method, path) gets 503 SlowDown, later ones pass
                   (for a form POST with Action=X, as EC2's Query API: of each (method, path, X))
        always503  every request gets 503 SlowDown
        firstdrop  the first try of each (method, path) gets its connection closed unanswered
        unreadable every EC2 instance state in a reply (<instanceState><name>) becomes "?":
                   a console that cannot tell what a machine is doing
Stops on SIGTERM. For tests of retries (wms remote): a server that is briefly overloaded.
"""
import http.client
import re
import http.server
import socketserver
import sys
import threading

target = int(sys.argv[1])
mode = sys.argv[2]
seen = set()
lock = threading.Lock()

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b'<Message>Please reduce your request rate.</Message></Error>')


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def first_try(self, body=b""):
        action = b""
        for field in body.split(b"&"):
            if field.startswith(b"Action="):
                action = field[7:]
        with lock:
            key = (self.command, self.path, action)
            fresh = key not in seen
            seen.add(key)
            return fresh

    def handle_one(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if mode == "always503" or (mode == "first503" and self.first_try(body)):
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOW_DOWN)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(SLOW_DOWN)
            return
        if mode == "firstdrop" and self.first_try(body):
            self.close_connection = True
            self.connection.close()
            return
        conn = http.client.HTTPConnection("127.0.0.1", target, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
        conn.request(self.command, self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if mode == "unreadable":
            data = re.sub(rb"(<instanceState><code>\d+</code><name>)[a-z-]+(</name>)", rb"\g<1>?\g<2>", data)
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data) if self.command != "HEAD" else r.getheader("Content-Length", "0")))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = handle_one


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
