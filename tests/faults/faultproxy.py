#!/usr/bin/python3
"""faultproxy.py: a TCP proxy on loopback that injects network faults between kiroku agents and the hub.

Usage: faultproxy.py --target HOST:PORT --control FILE --stats FILE [--listen HOST:PORT] [--seed N]

It prints "listening on HOST:PORT" on stdout once it accepts connections, then forwards every connection to
the target. TLS passes through untouched (the proxy works on TCP bytes), so the agent and the hub see the faults a
real network makes: the record layer fails, curl reports an error, the hub's read deadline fires.

For each new connection the proxy reads the first line of the control file:
  pass                   forward faithfully
  faults [KIND=W ...] [limit=LO-HI]
                         draw one fault per connection with these weights (default: all weights below); N
                         (below) is drawn from LO..HI (default 300..24000)
  stop                   exit (after the current connections end)
Fault kinds:
  pass       forward faithfully
  delay      hold each chunk (up to 4 KiB) 10..150 ms, both directions
  cut        the agent's bytes (its request: the TLS handshake, the body) are cut after N bytes: both sides
             are closed with a reset
  truncate   the hub's bytes (its answer) are cut after N bytes: both sides are closed with a reset
  stall      after N bytes in either direction nothing more is forwarded for 6 s, then both sides are closed
N is drawn per connection, by default from 300..24000: past the handshake most of the time, inside a request or an
answer.
A fault that did not get to act (the connection ended before N bytes) is not counted as injected.

The stats file (JSON, rewritten after each connection ends) counts connections per drawn kind and the faults
that acted: {"connections": n, "drawn": {...}, "injected": {...}}.
"""
import argparse
import asyncio
import json
import os
import random
import socket
import struct
import sys

KINDS = ("pass", "delay", "cut", "truncate", "stall")
DEFAULT_WEIGHTS = {"pass": 3, "delay": 2, "cut": 2, "truncate": 2, "stall": 1}
STALL_S = 6.0


class Stats:
    def __init__(self, path):
        self.path = path
        self.connections = 0
        self.drawn = {k: 0 for k in KINDS}
        self.injected = {k: 0 for k in KINDS if k != "pass"}

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"connections": self.connections, "drawn": self.drawn, "injected": self.injected}, f)
        os.replace(tmp, self.path)


def read_control(path):
    """(mode, weights, (lo, hi)) from the control file's first line."""
    limits = (300, 24000)
    try:
        with open(path) as f:
            line = f.readline().split()
    except OSError:
        return "pass", {}, limits
    if not line:
        return "pass", {}, limits
    mode = line[0]
    weights = dict(DEFAULT_WEIGHTS)
    kinds = [item for item in line[1:] if not item.startswith("limit=")]
    if mode == "faults" and kinds:
        weights = {k: 0 for k in KINDS}
        for item in kinds:
            k, _, w = item.partition("=")
            if k in weights:
                weights[k] = float(w or 1)
    for item in line[1:]:
        if item.startswith("limit="):
            lo, _, hi = item[6:].partition("-")
            limits = (int(lo), int(hi or lo))
    return mode, weights, limits


def reset(writer):
    """Closes with a RST (SO_LINGER 0), as a cut cable or a dropped NAT entry would look."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.close()


class Conn:
    def __init__(self, kind, limit, rng):
        self.kind = kind
        self.limit = limit
        self.rng = rng
        self.sent = {"up": 0, "down": 0}
        self.acted = False
        self.done = asyncio.Event()


async def pump(conn, direction, reader, writer, peer_writer):
    """Forwards reader -> writer; direction "up" is agent -> hub."""
    try:
        while not conn.done.is_set():
            data = await reader.read(4096)
            if not data:
                break
            kind = conn.kind
            if kind == "delay":
                conn.acted = True
                await asyncio.sleep(conn.rng.uniform(0.01, 0.15))
            limited = (kind == "cut" and direction == "up") or (kind == "truncate" and direction == "down") or \
                kind == "stall"
            if limited:
                total = conn.sent["up"] + conn.sent["down"] if kind == "stall" else conn.sent[direction]
                room = conn.limit - total
                if room < len(data):
                    if room > 0:
                        writer.write(data[:room])
                        await writer.drain()
                        conn.sent[direction] += room
                    conn.acted = True
                    if kind == "stall":
                        await asyncio.sleep(STALL_S)
                    conn.done.set()
                    break
            writer.write(data)
            await writer.drain()
            conn.sent[direction] += len(data)
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        conn.done.set()


async def handle(client_reader, client_writer, args, stats, rng):
    mode, weights, limits = read_control(args.control)
    if mode == "stop":
        client_writer.close()
        asyncio.get_running_loop().stop()
        return
    kind = "pass"
    if mode == "faults":
        kinds = [k for k in KINDS if weights.get(k, 0) > 0]
        kind = rng.choices(kinds, [weights[k] for k in kinds])[0] if kinds else "pass"
    conn = Conn(kind, rng.randint(*limits), rng)
    stats.connections += 1
    stats.drawn[kind] += 1
    host, _, port = args.target.rpartition(":")
    try:
        server_reader, server_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        reset(client_writer)
        stats.save()
        return
    up = asyncio.ensure_future(pump(conn, "up", client_reader, server_writer, client_writer))
    down = asyncio.ensure_future(pump(conn, "down", server_reader, client_writer, server_writer))
    await conn.done.wait()
    if conn.acted and kind in ("cut", "truncate", "stall"):
        reset(client_writer)
        reset(server_writer)
    else:
        # A clean end: one side closed. Let the other direction finish what it has, then close both.
        try:
            await asyncio.wait_for(asyncio.gather(up, down, return_exceptions=True), timeout=30)
        except asyncio.TimeoutError:
            pass
        for w in (client_writer, server_writer):
            try:
                w.close()
            except OSError:
                pass
    for t in (up, down):
        t.cancel()
    if conn.acted and kind != "pass":
        stats.injected[kind] += 1
    stats.save()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--target", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    stats = Stats(args.stats)
    stats.save()
    host, _, port = args.listen.rpartition(":")
    server = await asyncio.start_server(lambda r, w: handle(r, w, args, stats, rng), host, int(port))
    addr = server.sockets[0].getsockname()
    print(f"listening on {addr[0]}:{addr[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, RuntimeError):
        sys.exit(0)
