"""A real syslog receiver for the alert tests: Debian's rsyslog on loopback,
started with its own configuration (UDP and TCP inputs, one file written
with a template that splits the RFC 5424 fields as rsyslog parsed them).

    r = rsyslogd.Rsyslog(workdir)   # ports chosen, configuration written
    r.start()                       # waits until the TCP input listens
    r.wait_udp()                    # imudp has its own thread: probe it
    r.records()                     # the consumer's messages, field lists
    r.stop()
"""
import os
import shutil
import signal
import socket
import subprocess

import pxtest

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
SEP = "\x1f"  # between the fields in rsyslog's output: in no field
# the fields of records(), in order
PRI, VERSION, TIME, HOST, APP, PROCID, MSGID, SD, INPUT, MSG = range(10)

CONF = """
global(workDirectory="{dir}" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
template(name="fields" type="list") {{
  property(name="pri") constant(value="\x1f")
  property(name="protocol-version") constant(value="\x1f")
  property(name="timereported" dateFormat="rfc3339" date.inUTC="on") constant(value="\x1f")
  property(name="hostname") constant(value="\x1f")
  property(name="app-name") constant(value="\x1f")
  property(name="procid") constant(value="\x1f")
  property(name="msgid") constant(value="\x1f")
  property(name="structured-data") constant(value="\x1f")
  property(name="inputname") constant(value="\x1f")
  property(name="msg") constant(value="\\n")
}}
ruleset(name="alerts") {{
  action(type="omfile" file="{out}" template="fields")
}}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="alerts")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="alerts")
"""


def present():
    return os.access(RSYSLOGD, os.X_OK)


class Rsyslog:
    """One rsyslogd with its files in workdir (which the caller removes)."""

    def __init__(self, workdir):
        self.dir = workdir
        self.out = os.path.join(workdir, "out.log")
        self.udp = pxtest.free_port()
        self.tcp = pxtest.free_port(avoid=(self.udp,))
        self.conf = os.path.join(workdir, "rsyslog.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=workdir, out=self.out, udp=self.udp, tcp=self.tcp))
        self.proc = None

    def url(self, proto):
        return "%s://127.0.0.1:%d" % (proto, self.tcp if proto == "tcp" else self.udp)

    def start(self):
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", self.conf, "-i", os.path.join(self.dir, "pid")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        pxtest.wait_for(self.tcp_listening, what="rsyslog's TCP input")

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
            self.proc.stdout.close()
            self.proc = None

    def tcp_listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("rsyslogd exited: %s" % self.proc.stdout.read())
        try:
            socket.create_connection(("127.0.0.1", self.tcp), timeout=1).close()
            return True
        except OSError:
            return False

    def udp_ready(self):
        """True once a probe datagram landed in the file."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"<13>1 - - probe - probe - ready", ("127.0.0.1", self.udp))
        return "probe" in self.read_out()

    def wait_udp(self):
        pxtest.wait_for(self.udp_ready, what="rsyslog's UDP input")

    def read_out(self):
        try:
            with open(self.out, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def records(self):
        """The consumer's messages rsyslog wrote: field lists (PRI ... MSG),
        probes left out."""
        recs = []
        for line in self.read_out().splitlines():
            f = line.split(SEP, 9)
            if len(f) == 10 and f[APP] == "pdnsx-consumer":
                recs.append(f)
        return recs
