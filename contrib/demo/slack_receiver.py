#!/usr/bin/env python3
"""contrib/demo/slack_receiver.py — stands in for Slack in the demo.

A local HTTP server (python3's http.server) that takes Slack incoming-webhook
posts as pipewatch's Slack receiver sends them (Block Kit JSON), answers
200 "ok" as Slack does, and appends one readable line per message to a
file the demo prints: the header, then each section's text on one line.

  slack_receiver.py PORT_FILE OUT_FILE
"""
import http.server
import json
import sys
import time


def main():
    port_file, out_file = sys.argv[1], sys.argv[2]
    out = open(out_file, "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                msg = json.loads(body)
                parts = []
                # The header and the summary; the evidence section is long
                # (the prediction line above has it).
                for b in msg.get("blocks", []):
                    if b.get("type") in ("header", "section"):
                        text = b["text"]["text"]
                        if text.startswith("*Evidence*"):
                            break
                        parts.append(text.replace("\n", "  "))
                line = " | ".join(parts) or msg.get("text", "")
            except (ValueError, KeyError, TypeError):
                line = "(not Block Kit JSON)"
            out.write(f"{time.strftime('%H:%M:%S')} {line}\n")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
