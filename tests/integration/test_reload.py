"""SIGHUP through the real pdnsx-consumer (docs/INTERFACE.md "Exit status and signals": SIGHUP reloads the
GeoIP databases): after the MMDB files are replaced and the daemon gets
SIGHUP, records new to the store get the new files' answers (records
already stored keep theirs); a broken replacement is refused with a log
line, the old databases stay in use and the daemon keeps merging.

(The producer's SIGHUP, which reloads nothing today, is in
test_producer_program.py.)"""
import json
import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire as w  # noqa: E402
import pxtest  # noqa: E402

MAKE_MMDB = os.path.join(pxtest.SRC, "tests", "geoip", "make-mmdb.pl")
ORG = "reload"
T0 = 1764000000


class ConsumerReload(unittest.TestCase):
    def setUp(self):
        pxtest.need_fixture(self, os.path.exists(MAKE_MMDB), MAKE_MMDB)
        self.dir = pxtest.tmpdir("pdnsx-reload-")
        self.broker = pxtest.Broker(topics=["pdnsx.obs.%s:2" % ORG])
        self.country = os.path.join(self.dir, "country.mmdb")
        self.asn = os.path.join(self.dir, "asn.mmdb")
        self.store = os.path.join(self.dir, "store")
        self.proc = None
        self.sent = 0

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.broker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_mmdb(self, country, asn, org):
        """Both files for 93.184.216.0/24, written aside and renamed into
        place, as an operator's update script would."""
        desc = os.path.join(self.dir, "networks.txt")
        with open(desc, "w") as f:
            f.write("93.184.216.0/24 %s %d %s\n" % (country, asn, org))
        subprocess.run(["perl", MAKE_MMDB, "--desc", desc, "--country", self.country + ".new",
                        "--asn", self.asn + ".new"], check=True, timeout=120)
        os.rename(self.country + ".new", self.country)
        os.rename(self.asn + ".new", self.asn)

    def publish(self, name, addr):
        """One observation of name A addr, through the real producer."""
        pcap = os.path.join(self.dir, name + ".pcap")
        msg = w.response(name, "A", [(name, "A", 300, addr)])
        w.write_pcap(pcap, [(T0, w.udp_packet("198.41.0.4", "192.0.2.7", 53, 40000, msg))])
        out = subprocess.run(pxtest.producer_cmd([
            'org="%s"' % ORG, 'inputs=({type="pcap-file"; path="%s";})' % pcap,
            'kafka.brokers="%s"' % self.broker.bootstrap]),
            capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.sent += 1
        pxtest.wait_for(lambda: self.proc.poll() is not None or
                        pxtest.metric(self.port, "pdnsx_consumer_merged_total") == self.sent,
                        60, "%s merged" % name)
        self.assertIsNone(self.proc.poll(), self.log())

    def log(self):
        with open(self.logname) as f:
            return f.read()

    def lookup(self, name):
        out = subprocess.run([os.path.join(pxtest.BIN, "pdnsx-query"), "-s",
                              'store.path="%s"' % self.store, "rrset", name],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        recs = [json.loads(line) for line in out.stdout.splitlines()]
        self.assertEqual(len(recs), 1, recs)
        return recs[0].get("country"), recs[0].get("asn")

    def hup(self, expect):
        """SIGHUP, then wait for the log line that answers it."""
        before = self.log().count("SIGHUP")
        self.proc.send_signal(signal.SIGHUP)
        pxtest.wait_for(lambda: self.proc.poll() is not None or
                        self.log().count("SIGHUP") > before, 30, "the SIGHUP log line")
        self.assertIsNone(self.proc.poll(), self.log())
        last = [line for line in self.log().splitlines() if "SIGHUP" in line][-1]
        self.assertIn(expect, last)

    def test_sighup_reloads_geoip(self):
        self.write_mmdb("US", 64500, "Example One")
        self.logname = os.path.join(self.dir, "consumer.log")
        logf = open(self.logname, "w")
        self.proc, (self.port,) = pxtest.serve(lambda port: subprocess.Popen([
            os.path.join(pxtest.BIN, "pdnsx-consumer"),
            "-s", 'kafka.brokers="%s"' % self.broker.bootstrap,
            *pxtest.NO_CHANGELOG, "-s", 'kafka.group="reload-%d"' % os.getpid(),
            "-s", 'kafka.topics="pdnsx.obs.%s"' % ORG,
            "-s", 'store.path="%s"' % self.store,
            "-s", 'geoip.country="%s"' % self.country, "-s", 'geoip.asn="%s"' % self.asn,
            "-s", 'metrics.listen="127.0.0.1:%d"' % port], stdout=subprocess.DEVNULL,
            stderr=logf))
        logf.close()

        self.publish("one.example.com", "93.184.216.10")
        self.assertEqual(self.lookup("one.example.com"), ("US", 64500))

        # new files, SIGHUP: new records get the new answers
        self.write_mmdb("DE", 64501, "Beispiel Zwei")
        self.hup("GeoIP databases reloaded")
        self.publish("two.example.com", "93.184.216.11")
        self.assertEqual(self.lookup("two.example.com"), ("DE", 64501))
        self.assertEqual(self.lookup("one.example.com"), ("US", 64500))

        # a broken country file (renamed into place, as docs/GEOIP.md
        # says): refused, said so, the last good ones stay
        with open(self.country + ".new", "wb") as f:
            f.write(b"this is not an MMDB file\n" * 40)
        os.rename(self.country + ".new", self.country)
        self.hup("GeoIP reload failed, keeping the old databases")
        self.publish("three.example.com", "93.184.216.12")
        self.assertEqual(self.lookup("three.example.com"), ("DE", 64501))

        # and a good file again is taken by the next SIGHUP
        self.write_mmdb("JP", 64502, "Rei San")
        self.hup("GeoIP databases reloaded")
        self.publish("four.example.com", "93.184.216.13")
        self.assertEqual(self.lookup("four.example.com"), ("JP", 64502))

        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=60), 0, self.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
