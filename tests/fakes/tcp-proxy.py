#!/usr/bin/python3
"""tcp-proxy: relay TCP connections to a real server, so a test can cut
the network between a tool and RabbitMQ without touching the broker.

    tcp-proxy.py --listen 127.0.0.1:0 --port-file F --target 127.0.0.1:5672
                 [--tls-cert PEM --tls-key PEM [--client-ca PEM]]

With --tls-cert it terminates TLS (amqps:// in front of a plain broker);
with --client-ca it also requires a client certificate signed by it.

Signals:
  SIGUSR1  cut: reset every connection and refuse new ones
  SIGHUP   freeze: stop relaying (connections stay open, like a dead link)
  SIGUSR2  restore normal service
The port file gets "HOST:PORT" once listening (written atomically); each
accepted connection is counted in PORTFILE.conns for the test to read.
"""
import argparse
import asyncio
import os
import signal
import ssl

state = "up"
resumed = None
links = set()
server = None
accepted = 0


def parse_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


async def relay(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            while state == "frozen":
                await resumed.wait()
            if state == "cut":
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def handle(creader, cwriter, args):
    global accepted
    accepted += 1
    with open(args.port_file + ".conns", "w") as f:
        f.write("%d\n" % accepted)
    if state != "up":
        cwriter.transport.abort()
        return
    host, port = parse_addr(args.target)
    try:
        sreader, swriter = await asyncio.open_connection(host, port)
    except OSError:
        cwriter.transport.abort()
        return
    pair = (cwriter, swriter)
    links.add(pair)
    try:
        await asyncio.gather(relay(creader, swriter), relay(sreader, cwriter))
    finally:
        links.discard(pair)


async def listen(args, ctx, port):
    host, _ = parse_addr(args.listen)
    return await asyncio.start_server(
        lambda r, w: handle(r, w, args), host, port, ssl=ctx, reuse_address=True
    )


async def main():
    global resumed, server
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--target", default="127.0.0.1:5672")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--client-ca")
    args = ap.parse_args()

    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)

    resumed = asyncio.Event()
    _, port = parse_addr(args.listen)
    server = await listen(args, ctx, port)
    sock = server.sockets[0].getsockname()
    port = sock[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%s:%d\n" % (sock[0], port))
    os.rename(tmp, args.port_file)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def cut():
        global state, server
        state = "cut"
        resumed.set()
        for c, s in list(links):
            c.transport.abort()
            s.transport.abort()
        if server is not None:
            server.close()
            server = None

    def freeze():
        global state
        state = "frozen"
        resumed.clear()

    async def reopen():
        global server
        if server is None:
            server = await listen(args, ctx, port)

    def restore():
        global state
        state = "up"
        resumed.set()
        loop.create_task(reopen())

    loop.add_signal_handler(signal.SIGUSR1, cut)
    loop.add_signal_handler(signal.SIGHUP, freeze)
    loop.add_signal_handler(signal.SIGUSR2, restore)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
