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

With --sasl-plain USER:PASSWORD the proxy also stands in for the broker's
SASL layer, which the development broker lacks: it adds SaslHandshake (17)
and SaslAuthenticate (36) v0-v1 to the broker's ApiVersions response,
answers those two requests itself (mechanism PLAIN only, credentials
compared with USER:PASSWORD), and closes a connection that sends any other
request before authenticating. This is the proxy's SASL, not Kafka's: it
shows that the client sends the configured mechanism and credentials, not
that a real broker accepts them.

Usage: kafka_tls_proxy.py --upstream HOST:PORT --cert C --key K
           [--client-ca CA] [--port N] [--port-file FILE]
           [--sasl-plain USER:PASSWORD]
Logs one line per event to stderr:
  listening on 127.0.0.1:PORT
  client certificate verified: subject=CN=...   (with --client-ca)
  tls handshake failed: ...
  rewrote Metadata v4 broker 1 port 1234 -> 5678
  sasl: authenticated user U (PLAIN) / sasl: authentication failed for U
"""
import argparse
import asyncio
import os
import ssl
import struct
import sys

METADATA, FIND_COORDINATOR, API_VERSIONS = 3, 10, 18
SASL_HANDSHAKE, SASL_AUTHENTICATE = 17, 36


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


def rewrite_api_versions(buf, version):
    """Adds SaslHandshake and SaslAuthenticate v0-v1 to the list."""
    (error,) = struct.unpack_from(">h", buf, 0)
    if error != 0:
        # E.g. UNSUPPORTED_VERSION to a v3 request: the client asks again
        # with a version the broker has, and that answer is patched.
        log(f"ApiVersions v{version}: error {error} passed through")
        return
    if version > 2:
        raise Unparsed(f"ApiVersions v{version} (flexible) is not parsed")
    (count,) = struct.unpack_from(">i", buf, 2)
    keys = {struct.unpack_from(">h", buf, 6 + 6 * i)[0] for i in range(count)}
    add = b"".join(struct.pack(">hhh", k, 0, 1)
                   for k in (SASL_HANDSHAKE, SASL_AUTHENTICATE) if k not in keys)
    n_add = len(add) // 6
    end = 6 + 6 * count
    buf[2:6] = struct.pack(">i", count + n_add)
    buf[end:end] = add
    log(f"ApiVersions v{version}: advertised SaslHandshake and SaslAuthenticate")


class Sasl:
    """The proxy's stand-in for a broker's SASL PLAIN layer."""

    def __init__(self, creds):
        self.user, _, self.password = creds.partition(":")
        self.done = False

    def answer(self, key, ver, body):
        """The response body to a SASL request, or None for other keys."""
        if key == SASL_HANDSHAKE:
            mech, _ = _string(body, 0)
            err = 0 if mech == b"PLAIN" else 33     # UNSUPPORTED_SASL_MECHANISM
            log(f"sasl: handshake v{ver} mechanism {mech.decode(errors='replace')}")
            return struct.pack(">hih", err, 1, 5) + b"PLAIN"
        if key == SASL_AUTHENTICATE:
            if ver > 1:
                raise Unparsed(f"SaslAuthenticate v{ver} (flexible) is not parsed")
            (n,) = struct.unpack_from(">i", body, 0)
            parts = bytes(body[4:4 + n]).split(b"\0")
            user = parts[1].decode(errors="replace") if len(parts) == 3 else "?"
            ok = (len(parts) == 3 and parts[1] == self.user.encode()
                  and parts[2] == self.password.encode())
            if ok:
                self.done = True
                log(f"sasl: authenticated user {user} (PLAIN)")
                out = struct.pack(">hhi", 0, -1, 0)
            else:
                log(f"sasl: authentication failed for {user}")
                msg = b"Authentication failed: invalid credentials"
                out = struct.pack(">hh", 58, len(msg)) + msg + struct.pack(">i", 0)
            if ver >= 1:
                out += struct.pack(">q", 0)
            return out
        return None


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

    async def client_to_broker(self, creader, bwriter, pending, cwriter, sasl):
        while True:
            frame = await read_frame(creader)
            key, ver, corr = struct.unpack_from(">hhi", frame, 0)
            if sasl:
                # Request header v1: then the client id (int16 string).
                _, off = _string(frame, 8, nullable=True)
                reply = sasl.answer(key, ver, frame[off:])
                if reply is not None:
                    out = struct.pack(">i", corr) + reply
                    cwriter.write(struct.pack(">i", len(out)) + out)
                    await cwriter.drain()
                    continue
                if not sasl.done and key != API_VERSIONS:
                    raise Unparsed(f"api_key {key} before SASL authentication")
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
            elif key == API_VERSIONS and self.args.sasl_plain:
                rewrite_api_versions(body, ver)
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
        sasl = Sasl(self.args.sasl_plain) if self.args.sasl_plain else None
        tasks = [asyncio.ensure_future(self.client_to_broker(creader, bwriter, pending,
                                                             cwriter, sasl)),
                 asyncio.ensure_future(self.broker_to_client(breader, cwriter, pending))]
        done, rest = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in rest:
            t.cancel()
        for t in done:
            e = t.exception()
            if isinstance(e, Unparsed):
                log(f"UNPARSED: {e}; closing the connection")
            elif e and not isinstance(e, (asyncio.IncompleteReadError, ConnectionError)):
                log(f"UNPARSED: {type(e).__name__}: {e}; closing the connection")
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
    p.add_argument("--sasl-plain")
    args = p.parse_args()
    try:
        asyncio.run(Proxy(args).main())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
