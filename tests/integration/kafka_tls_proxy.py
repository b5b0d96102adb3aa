#!/usr/bin/env python3
"""tests/integration/kafka_tls_proxy.py — a TLS front for the development
broker, for the Kafka TLS tests.

Why this exists: the development broker (librdkafka 2.0.2's mock cluster)
listens in plaintext only, so it cannot show that pipewatch's librdkafka
clients really speak TLS with the settings the documentation gives. This
proxy is a real TLS server (Python's ssl module, i.e. OpenSSL): it presents
a server certificate, optionally requires and verifies a client certificate
(mutual TLS), and forwards the decrypted Kafka protocol to the broker.

Kafka clients learn broker addresses from the protocol itself (Metadata and
FindCoordinator responses), so the proxy rewrites the port in those
responses to its own: every connection the client opens comes back through
the proxy. It parses only the non-flexible versions (Metadata v0-v8,
FindCoordinator v0-v2) and fails loudly (closes the connection, logs
"UNPARSED") on any other, so a client upgrade cannot silently bypass it.
It is meant for a 1-broker cluster: every broker is mapped to this port.

Usage: kafka_tls_proxy.py --upstream HOST:PORT --cert C --key K
           [--client-ca CA] [--port N] [--port-file FILE]
Logs one line per event to stderr:
  listening on 127.0.0.1:PORT
  client certificate verified: subject=CN=...   (with --client-ca)
  tls handshake failed: ...
  rewrote Metadata v4 broker 1 port 1234 -> 5678
"""
import argparse
import asyncio
import os
import ssl
import struct
import sys

METADATA, FIND_COORDINATOR = 3, 10


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Unparsed(Exception):
    pass


def _string(buf, off, nullable=False):
    (n,) = struct.unpack_from(">h", buf, off)
    off += 2
    if n < 0:
        if not nullable:
            raise Unparsed("null string")
        return None, off
    return bytes(buf[off:off + n]), off + n


def rewrite_metadata(buf, version, port):
    """buf: the response body after the correlation id (a bytearray)."""
    if version > 8:
        raise Unparsed(f"Metadata v{version} (flexible) is not parsed")
    off = 4 if version >= 3 else 0           # throttle_time_ms
    (count,) = struct.unpack_from(">i", buf, off)
    off += 4
    for _ in range(count):
        (node,) = struct.unpack_from(">i", buf, off)
        off += 4
        _, off = _string(buf, off)
        (old,) = struct.unpack_from(">i", buf, off)
        struct.pack_into(">i", buf, off, port)
        off += 4
        if version >= 1:
            _, off = _string(buf, off, nullable=True)
        log(f"rewrote Metadata v{version} broker {node} port {old} -> {port}")


def rewrite_find_coordinator(buf, version, port):
    if version > 2:
        raise Unparsed(f"FindCoordinator v{version} (flexible) is not parsed")
    off = 0
    if version >= 1:
        off += 4                                  # throttle_time_ms
    off += 2                                      # error_code
    if version >= 1:
        _, off = _string(buf, off, nullable=True)  # error_message
    (node,) = struct.unpack_from(">i", buf, off)
    off += 4
    _, off = _string(buf, off)
    (old,) = struct.unpack_from(">i", buf, off)
    struct.pack_into(">i", buf, off, port)
    log(f"rewrote FindCoordinator v{version} node {node} port {old} -> {port}")


async def read_frame(reader):
    head = await reader.readexactly(4)
    (n,) = struct.unpack(">i", head)
    if n < 0 or n > 100 * 1024 * 1024:
        raise Unparsed(f"frame size {n}")
    return bytearray(await reader.readexactly(n))


class Proxy:
    def __init__(self, args):
        self.args = args
        self.port = None

    async def client_to_broker(self, creader, bwriter, pending):
        while True:
            frame = await read_frame(creader)
            key, ver, corr = struct.unpack_from(">hhi", frame, 0)
            pending[corr] = (key, ver)
            bwriter.write(struct.pack(">i", len(frame)) + frame)
            await bwriter.drain()

    async def broker_to_client(self, breader, cwriter, pending):
        while True:
            frame = await read_frame(breader)
            (corr,) = struct.unpack_from(">i", frame, 0)
            key, ver = pending.pop(corr, (None, None))
            body = frame[4:]
            if key == METADATA:
                rewrite_metadata(body, ver, self.port)
            elif key == FIND_COORDINATOR:
                rewrite_find_coordinator(body, ver, self.port)
            frame[4:] = body
            cwriter.write(struct.pack(">i", len(frame)) + frame)
            await cwriter.drain()

    async def handle(self, creader, cwriter):
        sslobj = cwriter.get_extra_info("ssl_object")
        cert = cwriter.get_extra_info("peercert")
        if cert:
            subject = ",".join("=".join(kv) for rdn in cert["subject"] for kv in rdn)
            log(f"client certificate verified: subject={subject} "
                f"({sslobj.version()})")
        else:
            log(f"client connected without a certificate ({sslobj.version()})")
        host, port = self.args.upstream.rsplit(":", 1)
        try:
            breader, bwriter = await asyncio.open_connection(host, int(port))
        except OSError as e:
            log(f"cannot reach the broker: {e}")
            cwriter.close()
            return
        pending = {}
        tasks = [asyncio.ensure_future(self.client_to_broker(creader, bwriter, pending)),
                 asyncio.ensure_future(self.broker_to_client(breader, cwriter, pending))]
        done, rest = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in rest:
            t.cancel()
        for t in done:
            e = t.exception()
            if isinstance(e, Unparsed):
                log(f"UNPARSED: {e}; closing the connection")
        bwriter.close()
        cwriter.close()

    async def main(self):
        a = self.args
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        if a.client_ca:
            ctx.load_verify_locations(a.client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        loop = asyncio.get_running_loop()

        def on_error(loop, context):
            exc = context.get("exception")
            if isinstance(exc, (ssl.SSLError, ConnectionError)):
                log(f"tls handshake failed: {exc}")
            else:
                loop.default_exception_handler(context)
        loop.set_exception_handler(on_error)
        server = await asyncio.start_server(self.handle, "127.0.0.1", a.port,
                                            ssl=ctx, reuse_address=True)
        self.port = server.sockets[0].getsockname()[1]
        log(f"listening on 127.0.0.1:{self.port}")
        if a.port_file:
            tmp = a.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(f"{self.port}\n")
            os.rename(tmp, a.port_file)
        async with server:
            await server.serve_forever()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--client-ca")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    args = p.parse_args()
    try:
        asyncio.run(Proxy(args).main())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
