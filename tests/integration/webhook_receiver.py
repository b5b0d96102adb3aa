#!/usr/bin/env python3
"""tests/integration/webhook_receiver.py — a webhook receiver for the tests.

A real HTTP server on loopback (python3's http.server, no extra packages)
that records every request it gets to a JSONL file, one object per line:
  {"t": unix seconds, "path": "/hook", "headers": {lower-case name: value},
   "body": "...", "status": answered status, "hmac_ok": true|false|null}
and answers as the options say:
  --port-file F        write the port it listens on (ephemeral) to F
  --port P             listen on port P instead (a receiver restarted on the
                       port its predecessor had)
  --log F              the JSONL file
  --hmac-secret S      verify X-Pipewatch-Signature: sha256=<hex> over the
                       body; a mismatch is answered 401 (recorded hmac_ok)
  --hmac-path P        verify only requests whose path starts with P
  --fail-every-other   answer 500 to every other request (1st, 3rd, ...)
  --retry-after V      answer the first request of each idempotency key with
                       429 and "Retry-After: V" (seconds, or "date:N" for an
                       HTTP date N seconds ahead)
  --status N           answer every request with N (e.g. 400)
  --delay-ms N         wait N ms before answering
  --fault-first MODE   the first request of each idempotency key is not
                       answered properly (recorded with status 0 and
                       "fault": MODE): "hang" reads it and never answers
                       (the connection stays open until the client gives up,
                       or 60 s), "cut" sends a 200 status line and half of
                       the body it announced, then closes the connection
  --start-late S       bind the port (and write it) at once, but accept
                       connections only after S seconds: until then the
                       port refuses connections, as a receiver that is down
  --tls-cert F --tls-key F
                       serve HTTPS with this certificate (a failed TLS
                       handshake is logged to stderr as "tls handshake
                       failed: ...")
The test reads the log; the server runs until killed.
"""
import argparse
import ssl
import sys
import email.utils
import hashlib
import hmac
import http.server
import json
import os
import socketserver
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True)
    ap.add_argument("--hmac-secret")
    ap.add_argument("--hmac-path", default="/")
    ap.add_argument("--fail-every-other", action="store_true")
    ap.add_argument("--retry-after")
    ap.add_argument("--status", type=int)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--start-late", type=float, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--fault-first", choices=["hang", "cut"])
    args = ap.parse_args()

    lock = threading.Lock()
    state = {"n": 0, "seen_keys": set()}
    logf = open(args.log, "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if args.delay_ms:
                time.sleep(args.delay_ms / 1000.0)
            headers = {k.lower(): v for k, v in self.headers.items()}
            hmac_ok = None
            if (args.hmac_secret is not None
                    and self.path.startswith(args.hmac_path)):
                want = "sha256=" + hmac.new(args.hmac_secret.encode(), body,
                                            hashlib.sha256).hexdigest()
                hmac_ok = hmac.compare_digest(
                    want, headers.get("x-pipewatch-signature", ""))
            extra = {}
            with lock:
                state["n"] += 1
                n = state["n"]
                key = headers.get("idempotency-key", "")
                first_of_key = key not in state["seen_keys"]
                state["seen_keys"].add(key)
                if hmac_ok is False:
                    status = 401
                elif args.status:
                    status = args.status
                elif args.retry_after and first_of_key:
                    status = 429
                    v = args.retry_after
                    if v.startswith("date:"):
                        v = email.utils.formatdate(
                            time.time() + float(v[5:]), usegmt=True)
                    extra["Retry-After"] = v
                elif args.fail_every_other and n % 2 == 1:
                    status = 500
                else:
                    status = 200
                fault = args.fault_first if first_of_key else None
                rec = {"t": time.time(), "path": self.path, "headers": headers,
                       "body": body.decode("utf-8", "replace"),
                       "status": 0 if fault else status, "hmac_ok": hmac_ok}
                if fault:
                    rec["fault"] = fault
                logf.write(json.dumps(rec) + "\n")
            if fault == "hang":
                # Until the client closes its end (recv returns b"") or 60 s.
                self.connection.settimeout(60)
                try:
                    self.connection.recv(1)
                except OSError:
                    pass
                self.close_connection = True
                return
            if fault == "cut":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: "
                                 b"application/json\r\nContent-Length: 40"
                                 b"\r\n\r\n{\"ok\":tr")
                self.wfile.flush()
                self.close_connection = True
                return
            out = b'{"ok":true}' if status == 200 else b'{"error":"test"}'
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 256

        def get_request(self):
            sock, addr = super().get_request()
            if not args.tls_cert:
                return sock, addr
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
            try:
                return ctx.wrap_socket(sock, server_side=True), addr
            except (ssl.SSLError, OSError) as e:
                print(f"tls handshake failed: {e}", file=sys.stderr, flush=True)
                sock.close()
                raise

    srv = Server(("127.0.0.1", args.port), Handler, bind_and_activate=False)
    srv.server_bind()  # bound, not listening: connections are refused
    port = srv.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, args.port_file)
    if args.start_late:
        time.sleep(args.start_late)
    srv.server_activate()
    srv.serve_forever()


if __name__ == "__main__":
    main()
