"""Real resolvers on loopback for integration tests: nsd (authoritative for
the zones in zones/) and unbound (recursive, stub zones to nsd, dnstap to a
unix socket). Both run as the current user in a temporary directory."""
import os
import shutil
import signal
import socket
import subprocess
import time

from pxtest import serve, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ZONES = ["example.com", "example.net", "corp.internal"]


def _dns_answers(port, proto="udp"):
    """True once a server answers a SOA query for example.com on port."""
    q = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
         b"\x07example\x03com\x00\x00\x06\x00\x01")
    try:
        if proto == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.5)
                s.sendto(q, ("127.0.0.1", port))
                data = s.recv(4096)
        else:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(len(q).to_bytes(2, "big") + q)
                data = s.recv(4096)
                data = data[2:]
        return len(data) > 12 and data[:2] == b"\x12\x34" and (data[3] & 0x0F) == 0
    except OSError:
        return False


class Nsd:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "nsd")
        os.makedirs(self.dir, exist_ok=True)
        self.proc, (self.port,) = serve(self._start, protos=("udp", "tcp"))
        wait_for(lambda: _dns_answers(self.port), 30, "nsd to answer")

    def _start(self, port):
        zones = ""
        for z in ZONES:
            shutil.copy(os.path.join(HERE, "zones", z + ".zone"), self.dir)
            zones += 'zone:\n  name: "%s"\n  zonefile: "%s/%s.zone"\n' % (z, self.dir, z)
        conf = os.path.join(self.dir, "nsd.conf")
        with open(conf, "w") as f:
            f.write("""server:
  ip-address: 127.0.0.1@{port}
  port: {port}
  username: ""
  chroot: ""
  database: ""
  zonelistfile: "{d}/zone.list"
  xfrdfile: "{d}/xfrd.state"
  pidfile: "{d}/nsd.pid"
  logfile: "{d}/nsd.log"
  server-count: 1
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
{zones}""".format(port=port, d=self.dir, zones=zones))
        subprocess.run(["nsd-checkconf", conf], check=True)
        return subprocess.Popen(["nsd", "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def close(self):
        _stop(self.proc)


class Unbound:
    """Recursive resolver sending dnstap to dnstap_socket."""

    def __init__(self, workdir, nsd_port, dnstap_socket, client=True, resolver=False,
                 username=""):
        self.dir = os.path.join(workdir, "unbound")
        os.makedirs(self.dir, exist_ok=True)
        self.nsd_port, self.sock = nsd_port, dnstap_socket
        self.client, self.resolver = client, resolver
        # Run as root, Unbound drops to this user after binding its port.
        self.username = username
        self.log = None
        self.proc, (self.port,) = serve(self._start, protos=("udp", "tcp"))
        wait_for(lambda: _dns_answers(self.port), 30, "unbound to answer")

    def _start(self, port):
        nsd_port, dnstap_socket = self.nsd_port, self.sock
        client, resolver = self.client, self.resolver
        stubs = ""
        for z in ZONES:
            stubs += 'stub-zone:\n  name: "%s"\n  stub-addr: 127.0.0.1@%d\n' % (z, nsd_port)
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write("""server:
  interface: 127.0.0.1
  port: {port}
  access-control: 127.0.0.0/8 allow
  username: "{user}"
  chroot: ""
  directory: "{d}"
  pidfile: "{d}/unbound.pid"
  logfile: ""
  use-syslog: no
  verbosity: 0
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
  num-threads: 1
  so-reuseport: no
  incoming-num-tcp: 64
  local-zone: "internal." nodefault
  domain-insecure: "internal."
dnstap:
  dnstap-enable: yes
  dnstap-socket-path: "{sock}"
  dnstap-send-identity: no
  dnstap-send-version: no
  dnstap-log-client-response-messages: {client}
  dnstap-log-resolver-response-messages: {resolver}
remote-control:
  control-enable: no
{stubs}""".format(port=port, d=self.dir, sock=dnstap_socket, stubs=stubs, user=self.username,
                  client="yes" if client else "no", resolver="yes" if resolver else "no"))
        subprocess.run(["unbound-checkconf", conf], check=True, stdout=subprocess.DEVNULL)
        if self.log:
            self.log.close()
        self.log = open(os.path.join(self.dir, "unbound.log"), "w")
        return subprocess.Popen(["unbound", "-d", "-c", conf], stdout=self.log,
                                stderr=subprocess.STDOUT)

    def close(self):
        _stop(self.proc)
        self.log.close()


def _stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def dnsperf(port, queries, mode="udp", local="127.0.0.1"):
    """Sends each (name, type) once with dnsperf; returns (sent, completed)."""
    path = "/tmp/pdnsx-dnsperf-%d-%d.txt" % (os.getpid(), time.monotonic_ns())
    with open(path, "w") as f:
        for name, qtype in queries:
            f.write("%s %s\n" % (name, qtype))
    try:
        out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", path,
                              "-n", "1", "-m", mode, "-a", local, "-c", "1", "-q", "20",
                              "-t", "10"], capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(path)
    if out.returncode != 0:
        raise AssertionError("dnsperf failed: " + out.stderr + out.stdout)
    sent = completed = None
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("Queries sent:"):
            sent = int(line.split()[2])
        elif line.startswith("Queries completed:"):
            completed = int(line.split()[2])
    return sent, completed
