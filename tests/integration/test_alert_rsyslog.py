"""The consumer's syslog sink against a real receiver: Debian's rsyslog on
loopback, started here with its own configuration (UDP and TCP inputs, one
file written with a template that splits the RFC 5424 fields as rsyslog
parsed them). px-alert-tool drives the sinks as the consumer does.

- TCP with the receiver down when the sink starts: it backs off, connects
  once rsyslog listens, and every alert arrives once, in order.
- UDP, and TCP with a CEF body: every field as rsyslog parsed it.
- The JSON-lines file written beside carries the same alerts as syslog.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import pxtest
import rsyslogd

TOOL = os.path.join(os.path.dirname(pxtest.BIN), "tests", "px-alert-tool")
T0 = 1795716000  # alert_fixture.h: alert n at T0 + n (2026-11-26T18:00:00Z + n)


def fixture_json(seq, pad=0):
    """alert_fixture.h's JSON of alert seq (severity 5)."""
    ident = "%032x" % ((seq * 0x9e3779b97f4a7c15) & 0xffffffffffffffff)
    return ('{"@timestamp":"...","event":{"kind":"alert","id":"%s","severity":5},'
            '"rule":{"name":"pdnsx.new_domain_burst"},"dns":{"question":{"name":'
            '"login.paypa1-secure.net","registered_domain":"paypa1-secure.net"}},'
            '"pdnsx":{"seq":%d,"pad":"%s"}}' % (ident, seq, "x" * pad)), ident


class AlertRsyslog(unittest.TestCase):
    def setUp(self):
        pxtest.need_fixture(self, rsyslogd.present(), "rsyslogd (scripts/setup.sh)")
        self.dir = tempfile.mkdtemp(prefix="pxt-rsyslog-")
        self.rsyslog = rsyslogd.Rsyslog(self.dir)
        self.udp, self.tcp = self.rsyslog.udp, self.rsyslog.tcp

    def tearDown(self):
        self.rsyslog.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def records(self):
        return self.rsyslog.records()

    def tool(self, *args):
        return subprocess.Popen([TOOL] + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def check_header(self, f, seq, severity_pri=36, transport="imtcp"):
        self.assertEqual(f[0], str(severity_pri))  # facility 4, warning
        self.assertEqual(f[1], "1")
        self.assertEqual(f[2], time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + seq)) +
                         ".000000+00:00")
        self.assertEqual(f[3], socket.gethostname())
        self.assertEqual(f[4], "pdnsx-consumer")
        self.assertTrue(f[5].isdigit())
        self.assertEqual(f[6], "pdnsx.new_domain_burst")
        self.assertEqual(f[7], "-")
        self.assertEqual(f[8], transport)

    def test_tcp_udp_cef(self):
        jsonl = os.path.join(self.dir, "alerts.jsonl")
        # TCP, rsyslog not yet there: the sink fails to connect and backs off
        a = self.tool("--syslog", "tcp://127.0.0.1:%d" % self.tcp, "--jsonl", jsonl,
                      "--first", "1", "--count", "5", "--pad", "3000", "--deadline-ms", "60000")
        err = []
        pxtest.wait_for(lambda: err.append(a.stderr.readline()) or "cannot connect" in err[-1],
                        what="the sink's failed connect")
        self.rsyslog.start()
        out, rest = a.communicate(timeout=90)
        self.assertEqual(a.returncode, 0, "".join(err) + rest)
        self.assertIn("syslog next=6", out)
        self.assertIn("jsonl next=6", out)

        pxtest.wait_for(lambda: len(self.records()) >= 5, what="5 alerts in the file")
        self.rsyslog.wait_udp()
        # one after the other: rsyslog's inputs do not order between them
        runs = (("udp://127.0.0.1:%d" % self.udp, "6", "5"),
                ("tcp://127.0.0.1:%d" % self.tcp, "11", "3", "--cef"))
        for url, first, count, *more in runs:
            p = self.tool("--syslog", url, "--first", first, "--count", count, *more)
            out, errs = p.communicate(timeout=90)
            self.assertEqual(p.returncode, 0, errs)
            n = int(first) + int(count) - 1
            pxtest.wait_for(lambda: len(self.records()) >= n, what="%d alerts in the file" % n)
        recs = self.records()
        self.assertEqual(len(recs), 13)

        # TCP and UDP, JSON bodies: each alert once, in order, whole
        with open(jsonl) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 5)
        for seq in range(1, 11):
            f = recs[seq - 1]
            self.check_header(f, seq, transport="imtcp" if seq <= 5 else "imudp")
            body, _ = fixture_json(seq, 3000 if seq <= 5 else 0)
            self.assertEqual(f[9], body)
            if seq <= 5:
                self.assertEqual(lines[seq - 1], body)  # the file says the same
        # CEF over TCP
        for seq in range(11, 14):
            f = recs[seq - 1]
            self.check_header(f, seq)
            _, ident = fixture_json(seq)
            self.assertEqual(
                f[9], "CEF:0|pdnsx|pdnsx-consumer|%s|pdnsx.new_domain_burst|new domain seen by "
                "many organisations|5|rt=%d000 externalId=%s dhost=login.paypa1-secure.net "
                "cs1Label=registeredDomain cs1=paypa1-secure.net" %
                (self.version(), T0 + seq, ident))

    def version(self):
        out = subprocess.run([os.path.join(pxtest.BIN, "pdnsx-consumer"), "--version"],
                             capture_output=True, text=True).stdout
        return out.split()[1]


if __name__ == "__main__":
    unittest.main()
