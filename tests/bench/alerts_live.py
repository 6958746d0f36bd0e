"""The resolvers' side of tests/bench/alerts.sh (detection latency).

  alerts_live.py seed DIR ORG...
      writes DIR/seed-ORG.dnstap for each organisation: the background
      names answered ten and nine days ago, so that a consumer fed them has
      history past detect.burst.warmup and knows the background domains as
      old (a dnstap-file producer per organisation publishes them).
  alerts_live.py live --window S --repeats N --alerts FILE --out TSV
                      [--bootstrap B --topic T] ORG=SOCKET ...
      connects to each producer's dnstap-unix socket as a resolver does
      (Frame Streams, bidirectional handshake) and sends CLIENT_RESPONSEs
      stamped with the wall clock: background traffic on every connection
      (--rate responses a second each), and N new domains that burst. A
      burst's first two organisations see its domain in one producer
      window; the third, the crossing sighting, comes 0.3 s after the next
      window opens, so the producer holds it for nearly the whole window:
      the worst case of "the window plus the pipeline". Meanwhile FILE
      (alerts.jsonl) is polled every 10 ms for each domain's alert line.
      Appends one row a burst to TSV: the window, domain, the crossing response's send time,
      the Kafka CreateTime of its observation (kcat on the third
      organisation's topic, keyed by registered domain), the time the
      alert line appeared (epoch seconds; empty when it never did).
  alerts_live.py summary TSV
      per window: median and max of each latency.

Every time here is the wall clock of this machine, the one the producers
and the consumer read too. Run with Debian's /usr/bin/python3."""
import argparse
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import dnswire  # noqa: E402

CT = dnswire.DNSTAP_CONTENT_TYPE
DAY = 86400
# Background registered domains, each with a few names, answered by real
# operators' public addresses (the consumer refuses special-purpose ones).
BG_DOMAINS = ["steady%02d-media.com" % i for i in range(40)] + \
             ["quiet%02d-shop.net" % i for i in range(20)]
BG_HOSTS = ["www", "api", "cdn", "mail"]


def bg_names():
    out = []
    for d, dom in enumerate(BG_DOMAINS):
        for h, host in enumerate(BG_HOSTS):
            out.append(("%s.%s" % (host, dom), "151.101.%d.%d" % (d, 10 + h)))
    return out


def frame(name, addr, t, client):
    msg = dnswire.response(name, "A", [(name, "A", 300, addr)])
    return dnswire.dnstap("CLIENT_RESPONSE", msg, t, client=client, server="10.53.0.1")


def seed(args):
    rng = random.Random(1)
    now = int(time.time())
    for k, org in enumerate(args.orgs):
        frames = []
        # every background name on day -10 and day -9, a few times each
        for day in (10, 9):
            for name, addr in bg_names():
                for _ in range(3):
                    t = now - day * DAY + rng.randrange(0, DAY // 2)
                    client = "10.%d.0.%d" % (20 + k, rng.randrange(1, 250))
                    frames.append((t, frame(name, addr, t, client)))
        frames.sort(key=lambda f: f[0])
        dnswire.write_fstrm(os.path.join(args.dir, "seed-%s.dnstap" % org), [f for _, f in frames])


def connect(path):
    """A Frame Streams sender's bidirectional handshake: READY, ACCEPT, START."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(dnswire.fstrm_control(4, CT))
    if dnswire.fstrm_read_control(s) != 1:
        raise SystemExit("alerts_live.py: %s did not ACCEPT" % path)
    s.sendall(dnswire.fstrm_control(2, CT))
    return s


class Tail(threading.Thread):
    """Polls the alerts file every 10 ms; first appearance of each
    registered domain's alert line, by the wall clock."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.seen, self.stop = path, {}, False
        self.pos, self.part = 0, b""

    def run(self):
        while not self.stop:
            self.poll()
            time.sleep(0.01)

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return
        now = time.time()
        self.pos += len(data)
        lines = (self.part + data).split(b"\n")
        self.part = lines.pop()
        for line in lines:
            try:
                a = json.loads(line)
            except ValueError:
                continue
            dom = a.get("dns", {}).get("question", {}).get("registered_domain")
            if dom and dom not in self.seen:
                self.seen[dom] = now


def create_times(bootstrap, topic):
    """registered domain -> earliest Kafka timestamp (CreateTime) on topic, seconds."""
    out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e",
                          "-q", "-f", "%T %k\\n"], capture_output=True, text=True, timeout=120)
    times = {}
    for line in out.stdout.splitlines():
        ts, _, key = line.partition(" ")
        if ts.isdigit():
            t = int(ts) / 1000.0
            times[key] = min(times.get(key, t), t)
    return times


def live(args):
    orgs = [o.split("=", 1) for o in args.conns]
    if len(orgs) < 3:
        raise SystemExit("alerts_live.py: a burst needs three organisations")
    socks = [connect(path) for _, path in orgs]
    rng = random.Random(args.window)
    names = bg_names()
    tail = Tail(args.alerts)
    tail.start()
    w = args.window
    run = "%x" % (int(time.time()) & 0xFFFFFF)
    domains = ["login-w%dr%d-%s.net" % (w, i, run) for i in range(args.repeats)]
    sent = {}

    def send(k, name, addr):
        t = time.time()
        f = frame(name, addr, t, "10.%d.1.%d" % (20 + k, rng.randrange(1, 250)))
        socks[k].sendall(struct.pack(">I", len(f)) + f)
        return t

    # Window k (k = 0 .. repeats) opens at first + k*w: the first two
    # organisations see domain k, the third sees domain k-1 (its crossing).
    first = (int(time.time()) // w + 1) * w
    plan = []
    for k in range(args.repeats + 1):
        at = first + k * w + 0.3
        if k < args.repeats:
            plan += [(at, 0, k), (at, 1, k)]
        if k:
            plan.append((at + 0.001, 2, k - 1))
    plan.sort()
    gap = 1.0 / args.rate
    next_bg = time.time()
    deadline = first + (args.repeats + 1) * w + args.wait
    while time.time() < deadline:
        now = time.time()
        while plan and plan[0][0] <= now:
            _, org, k = plan.pop(0)
            t = send(org, "www." + domains[k], "185.199.108.%d" % (k % 250 + 1))
            if org == 2:
                sent[domains[k]] = t
        if now >= next_bg:
            for k in range(len(socks)):
                send(k, *names[rng.randrange(len(names))])
            next_bg += gap
        if not plan and all(d in tail.seen for d in domains):
            break
        time.sleep(0.005)
    tail.poll()
    tail.stop = True
    for s in socks:
        s.sendall(dnswire.fstrm_control(3))  # STOP
        s.close()
    created = create_times(args.bootstrap, args.topic) if args.bootstrap else {}
    def opt(t):
        return "" if t is None else "%.3f" % t

    with open(args.out, "a") as f:
        for d in domains:
            f.write("%d\t%s\t%.3f\t%s\t%s\n" % (w, d, sent[d], opt(created.get(d)),
                                               opt(tail.seen.get(d))))


def summary(args):
    """Per window: bursts without an alert, then median and max of the
    latency from the crossing response's sending, from the end of the
    producer window that held it, and from the observation's Kafka
    CreateTime."""
    rows = {}
    with open(args.tsv) as f:
        for line in f:
            w, _, sent, created, seen = line.rstrip("\n").split("\t")
            rows.setdefault(int(w), []).append((float(sent), created, seen))

    def fmt(v):
        return "%.2f (%.2f)" % (statistics.median(v), max(v)) if v else "n/a"

    print("%-7s %6s %6s  %-22s %-22s %-22s" % ("window", "bursts", "missed", "from sent: med (max)",
                                              "after the window end", "from CreateTime"))
    for w in sorted(rows):
        seen = [(s, c, float(a)) for s, c, a in rows[w] if a]
        print("%-7s %6d %6d  %-22s %-22s %-22s" % (
            "%d s" % w, len(rows[w]), len(rows[w]) - len(seen), fmt([a - s for s, _, a in seen]),
            fmt([a - (s // w + 1) * w for s, _, a in seen]), fmt([a - float(c) for _, c, a in seen if c])))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("dir")
    s.add_argument("orgs", nargs="+")
    lv = sub.add_parser("live")
    lv.add_argument("--window", type=int, required=True)
    lv.add_argument("--repeats", type=int, default=5)
    lv.add_argument("--rate", type=float, default=20.0)
    lv.add_argument("--wait", type=float, default=30.0, help="seconds after the last window")
    lv.add_argument("--alerts", required=True)
    lv.add_argument("--out", required=True)
    lv.add_argument("--bootstrap")
    lv.add_argument("--topic")
    lv.add_argument("conns", nargs="+", metavar="ORG=SOCKET")
    sm = sub.add_parser("summary")
    sm.add_argument("tsv")
    args = ap.parse_args()
    {"seed": seed, "live": live, "summary": summary}[args.cmd](args)


if __name__ == "__main__":
    main()
