"""`--check` of the real pdnsx-producer and pdnsx-consumer on each bad
configuration of issue 9, item 11: every one is a `FILE:LINE: message` and
exit status 2, and a normal start says the same and exits 2 instead of
failing later with 1.

Before: whole numbers of 2^32 or more without `L` were cut to their low 32
bits (`window.seconds=4294967356` passed as 60), an @include loop, a
missing include, a directory or a binary file were `...:1: syntax error`
(the directory killed the process from inside libconfig's scanner), and
--check said OK for an unknown librdkafka property, a BPF filter that does
not compile, a missing input file, store directory or GeoIP file."""
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

PRODUCER = os.path.join(pxtest.BIN, "pdnsx-producer")
CONSUMER = os.path.join(pxtest.BIN, "pdnsx-consumer")
DEMO_PCAP = os.path.join(pxtest.SRC, "etc", "demo", "org-a.pcap")
NO_L = "is out of range for an integer without L"


class ConfigCheck(unittest.TestCase):
    def setUp(self):
        self.dir = pxtest.tmpdir("pdnsx-check-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
        return path

    def producer_conf(self, name, extra, inputs=None):
        """A valid producer configuration plus `extra` from line 3 on."""
        inputs = inputs or '{ type = "pcap-file"; path = "%s"; }' % DEMO_PCAP
        return self.write(name, 'org = "acme";\ninputs = ( %s );\n%s' % (inputs, extra))

    def run_prog(self, prog, *args):
        return subprocess.run([prog] + list(args), capture_output=True, text=True, timeout=60)

    def check(self, prog, args, *wants, start_too=False):
        """--check exits 2 and prints each of wants; with start_too a normal
        start exits 2 with the same lines."""
        runs = [("--check",) + tuple(args)] + ([tuple(args)] if start_too else [])
        for a in runs:
            out = self.run_prog(prog, *a)
            self.assertEqual(out.returncode, 2, "%s %s:\n%s" % (prog, a, out.stderr))
            for want in wants:
                self.assertIn(want, out.stderr, "%s %s" % (prog, a))
            # libconfig's catch-all for what it could not read
            self.assertNotRegex(out.stderr, r":\d+: syntax error")
        return out

    def test_examples_pass(self):
        for prog, conf in ((PRODUCER, "pdnsx-producer.conf"), (CONSUMER, "pdnsx-consumer.conf")):
            path = os.path.join(pxtest.SRC, "etc", conf)
            out = self.run_prog(prog, "--check", "-c", path)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout, "%s: OK\n" % path)

    def test_whole_numbers_out_of_range(self):
        conf = self.producer_conf("big.conf", "window = { seconds = 4294967356; };\n")
        self.check(PRODUCER, ["-c", conf],
                   "%s:3: window.seconds: 4294967356 %s" % (conf, NO_L), start_too=True)
        conf = self.producer_conf("big2.conf", "\nwindow = {\n  seconds = 99999999999;\n};\n")
        out = self.check(PRODUCER, ["-c", conf], "%s:5: window.seconds: 99999999999 %s"
                         % (conf, NO_L))
        self.assertNotIn("1215752191", out.stderr)
        ok = self.producer_conf("ok.conf", "")
        self.check(PRODUCER, ["-c", ok, "-s", "window.seconds=4294967356"],
                   "--set:1: window.seconds: 4294967356 %s" % NO_L)
        self.check(CONSUMER, ["-s", 'store.path="%s"' % self.dir, "-s", "store.batch_ms=4294967297"],
                   "--set:2: store.batch_ms: 4294967297 %s" % NO_L, start_too=True)

    def test_include_failures(self):
        sub = os.path.join(self.dir, "sub")
        os.mkdir(sub)
        loop_a = self.producer_conf("a.conf", '@include "b.conf"\n')
        loop_b = self.write("b.conf", '# b\n@include "a.conf"\n')
        self.check(PRODUCER, ["-c", loop_a],
                   "%s:2: @include loop: %s -> %s -> %s" % (loop_b, loop_a, loop_b, loop_a))
        missing = self.producer_conf("missing.conf", '@include "nothing.conf"\n')
        self.check(PRODUCER, ["-c", missing],
                   '%s:3: cannot include "nothing.conf" (%s/nothing.conf): No such file or '
                   'directory' % (missing, self.dir))
        directory = self.producer_conf("dir.conf", '@include "sub"\n')
        self.check(PRODUCER, ["-c", directory],
                   '%s:3: cannot include "sub" (%s): it is a directory' % (directory, sub),
                   start_too=True)
        binary = self.write("bin.dat", b"\x7fELF\x02\x01\x01\x00" * 8)
        nonconf = self.producer_conf("bin.conf", '@include "bin.dat"\n')
        self.check(PRODUCER, ["-c", nonconf],
                   '%s:3: cannot include "bin.dat" (%s): not a configuration file'
                   % (nonconf, binary))
        # relative to the including file, wherever the program runs from
        self.write("sub/window.conf", "window = { seconds = 30; };\n")
        good = self.producer_conf("good.conf", '@include "sub/window.conf"\n')
        out = subprocess.run([PRODUCER, "--check", "-c", good], capture_output=True, text=True,
                             timeout=60, cwd="/")
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_producer_runtime_failures(self):
        conf = self.producer_conf(
            "run.conf", "kafka = {\n  properties = {\n    no = { such = 1; };\n  };\n};\n",
            inputs='\n { type = "pcap-file"; path = "%s/none.pcap"; },\n'
                   ' { type = "pcap-file"; path = "%s"; filter = "udp and nonsense"; }\n'
                   % (self.dir, DEMO_PCAP))
        self.check(PRODUCER, ["-c", conf],
                   "%s:3: 'inputs[0].path' \"%s/none.pcap\": No such file or directory"
                   % (conf, self.dir),
                   "%s:4: 'inputs[1].filter' \"udp and nonsense\" does not compile" % conf,
                   "%s:8: kafka.properties.no.such: librdkafka refuses \"1\": No such "
                   "configuration property" % conf,
                   start_too=True)

    def test_consumer_runtime_failures(self):
        text = self.write("text.mmdb", "not a database\n")
        conf = self.write("consumer.conf",
                          'store = { path = "%s/no/such/dir"; };\n'
                          'geoip = {\n  country = "%s/none.mmdb";\n  asn = "%s";\n};\n'
                          'kafka = { properties = { auto = { offset = { reset = "never"; }; }; '
                          '}; };\n' % (self.dir, self.dir, text))
        self.check(CONSUMER, ["-c", conf],
                   "%s:1: 'store.path' \"%s/no/such/dir\" does not exist and cannot be created"
                   % (conf, self.dir),
                   "%s:3: geoip.country: %s/none.mmdb: cannot open: No such file or directory"
                   % (conf, self.dir),
                   "%s:4: geoip.asn: %s: not a MaxMind DB" % (conf, text),
                   "%s:6: kafka.properties.auto.offset.reset: librdkafka refuses \"never\""
                   % conf,
                   start_too=True)

    def test_statistics_interval_is_a_setting(self):
        """librdkafka's statistics.interval.ms belongs to
        kafka.statistics_interval_ms: kafka.properties may not set it."""
        text = ("kafka = {\n  properties = {\n    statistics = { interval = { ms = 5; }; };\n"
                "  };\n};\n")
        # the line of the property: after the producer_conf's org and inputs
        for prog, conf, line in ((PRODUCER, self.producer_conf("stats-p.conf", text), 5),
                                 (CONSUMER, self.write("stats-c.conf", text), 3)):
            self.check(prog, ["-c", conf],
                       "%s:%d: kafka.properties.statistics.interval.ms: set by "
                       "kafka.statistics_interval_ms: set that instead" % (conf, line),
                       start_too=True)

    def test_assignment_strategy_pinned(self):
        """The consumer assigns partitions with range only (co-partitioning):
        kafka.properties or kafka.properties_file setting another strategy
        is a problem naming it; range itself passes."""
        why = ("refused: pdnsx-consumer assigns partitions with \"range\" only: it gives "
               "partition i of every organisation topic to one member (co-partitioning")
        text = ('kafka = {\n  properties = {\n    partition = { assignment = { strategy = '
                '"roundrobin"; }; };\n  };\n};\n')
        conf = self.write("assign.conf", text)
        self.check(CONSUMER, ["-c", conf],
                   "%s:3: kafka.properties.partition.assignment.strategy: \"roundrobin\" %s"
                   % (conf, why), start_too=True)
        props = self.write("kafka.properties",
                           "# ours\nclient.rack=r1\npartition.assignment.strategy=cooperative-sticky\n")
        os.chmod(props, 0o600)
        conf = self.write("assign-file.conf", 'kafka = { properties_file = "%s"; };\n' % props)
        self.check(CONSUMER, ["-c", conf],
                   "%s:3: partition.assignment.strategy: \"cooperative-sticky\" %s"
                   % (props, why), start_too=True)
        conf = self.write("range.conf", text.replace("roundrobin", "range"))
        out = self.run_prog(CONSUMER, "--check", "-c", conf)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_group_instance_id(self):
        """kafka.group_instance_id (static membership) takes what Kafka takes
        as a group.instance.id; empty is dynamic membership."""
        for value in ("centre-1", "host.example_2", ""):
            out = self.run_prog(CONSUMER, "--check", "-s", 'kafka.group_instance_id="%s"' % value)
            self.assertEqual(out.returncode, 0, "%r: %s" % (value, out.stderr))
        for value in ("centre 1", "..", "x" * 250):
            self.check(CONSUMER, ["-s", 'kafka.group_instance_id="%s"' % value],
                       "kafka.group_instance_id", "Kafka takes 1 to 249 of [A-Za-z0-9._-]")

    def test_changelog_topic(self):
        """kafka.changelog_topic takes a Kafka topic name, not a regex; "" turns it off."""
        for value in ("pdnsx.state", "centre_2.state-x", ""):
            out = self.run_prog(CONSUMER, "--check", "-s", 'kafka.changelog_topic="%s"' % value)
            self.assertEqual(out.returncode, 0, "%r: %s" % (value, out.stderr))
        for value in ("pdnsx state", "^pdnsx\\\\..+", "x" * 250):
            self.check(CONSUMER, ["-s", 'kafka.changelog_topic="%s"' % value],
                       "kafka.changelog_topic", "Kafka topics are 1 to 249 of [A-Za-z0-9._-]")

if __name__ == "__main__":
    unittest.main(verbosity=2)
