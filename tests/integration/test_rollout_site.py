"""rollout/site: ansible/site.yml run for real on this machine (connection
local, as root), the way an operator rolls out a federation of one: the
freshly built .deb installed by the roles, one edge sensor fed by the
system's Unbound on loopback (configured by the producer role), one
central consumer, and the Kafka broker of the test harness (over SASL_SSL
with the users and ACLs the pdnsx_kafka role makes, when the harness has a
secure listener; else over PLAINTEXT with the role left out). Then the
same with Debian's BIND as the resolver (its include file, named-checkconf).

It changes this machine: it installs the pdnsx package (purged again at
the end, with what the roles added: the Unbound snippets, BIND's include,
the Kafka properties files, the store and spool, the resolvers' users'
membership of group pdnsx; the pdnsx user stays, as on a real removal;
BIND's files are restored) and starts and stops Unbound and BIND. Hence
its own label, `rollout`, run once by scripts/test.sh
with a Kafka broker of its own. Without systemd (a container) the roles'
`direct` service manager runs the daemons; the test checks it was chosen.

PDNSX_ROLLOUT_DEB names a .deb to install instead of building one with
packaging/deb/build-deb.sh.
"""
import glob
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
import unittest

import pxtest
from pxtest import BIN, SRC, need_fixture, unique_org, wait_for

ANSIBLE = os.path.join(SRC, "ansible")
RUN_DIR = "/run/pdnsx"
PIDFILES = {"pdnsx-producer": RUN_DIR + "/pdnsx-producer.pid",
            "pdnsx-consumer": RUN_DIR + "/pdnsx-consumer.pid"}
ADDRESS = "93.184.216.34"  # public-looking: special-purpose answers never leave
UNBOUND_SNIPPET = "/etc/unbound/unbound.conf.d/pdnsx-rollout-test.conf"
BIND_FILES = ["/etc/bind/named.conf.options", "/etc/bind/named.conf.local"]
BIND_ZONE = "/etc/bind/db.pdnsx-rollout-test"
RESOLVERS = {"unbound": ("/run/unbound.pid", "/usr/sbin/unbound"),
             "bind": ("/run/named/named.pid", "/usr/sbin/named")}
# What the roles write besides the package's files (removed at the end).
ROLE_FILES = ["/etc/unbound/unbound.conf.d/pdnsx-dnstap.conf",
              "/etc/bind/named.conf.pdnsx-dnstap", "/etc/pdnsx/kafka.properties",
              "/etc/pdnsx/kafka-consumer.properties", "/etc/pdnsx/kafka-admin.properties",
              "/etc/pdnsx/kafka-federation-users", "/etc/pdnsx/kafka-ca.pem"]
DEB = []  # the .deb built, for the second class
ROLE_DIRS = ["/var/log/pdnsx", RUN_DIR, "/var/lib/pdnsx", "/var/spool/pdnsx"]


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def stop_pidfile(pidfile, exe):
    sh("start-stop-daemon", "--stop", "--quiet", "--oknodo", "--retry", "TERM/30/KILL/5",
       "--pidfile", pidfile, "--exec", exe, check=False)


def running_pid(pidfile, exe):
    """The pid in pidfile if that process runs exe, else None."""
    try:
        pid = int(open(pidfile).read().split()[0])
        return pid if os.readlink("/proc/%d/exe" % pid) == exe else None
    except (OSError, ValueError, IndexError):
        return None


def proc_uid(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


def clean_machine(saved=None):
    """Stops what the rollout started and removes what it installed; BIND's
    files come back from `saved` (a directory of their copies)."""
    for name, pidfile in PIDFILES.items():
        stop_pidfile(pidfile, "/usr/bin/" + name)
    for pidfile, exe in RESOLVERS.values():
        stop_pidfile(pidfile, exe)
    sh("dpkg", "--purge", "pdnsx", check=False)
    for f in ROLE_FILES + [UNBOUND_SNIPPET, BIND_ZONE] + glob.glob("/var/cache/pdnsx-*.deb"):
        if os.path.lexists(f):
            os.unlink(f)
    for f in BIND_FILES if saved else ():
        if os.path.exists(os.path.join(saved, os.path.basename(f))):
            shutil.copy(os.path.join(saved, os.path.basename(f)), f)
    # the role's include line, should a run that died have left it
    options = open(BIND_FILES[0]).read()
    kept = "".join(ln for ln in options.splitlines(True) if "named.conf.pdnsx-dnstap" not in ln)
    if kept != options:
        with open(BIND_FILES[0], "w") as f:
            f.write(kept)
    for d in ROLE_DIRS:
        shutil.rmtree(d, ignore_errors=True)
    if os.path.isdir("/etc/pdnsx") and not os.listdir("/etc/pdnsx"):
        os.rmdir("/etc/pdnsx")
    members = [m for g in grp.getgrall() if g.gr_name == "pdnsx" for m in g.gr_mem]
    for user in ("unbound", "bind"):
        if user in members:
            sh("gpasswd", "-d", user, "pdnsx", check=False)


def recap(log):
    """changed=N of the PLAY RECAP line for localhost."""
    m = re.search(r"^localhost\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                  log, re.M)
    if not m:
        raise AssertionError("no PLAY RECAP in the run:\n" + log[-3000:])
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


class RolloutChecks:
    """site.yml on this machine with the resolver `resolver`, then what an
    operator would check."""
    resolver = None

    @classmethod
    def setUpClass(cls):
        cls.skip = None
        missing = [p for p in ("ansible-playbook", "ansible-vault", "unbound", "dig",
                               "start-stop-daemon") if not shutil.which(p)]
        if os.geteuid() != 0 or missing or not os.environ.get("PDNSX_TEST_KAFKA"):
            cls.skip = "needs root, a Kafka broker (PDNSX_TEST_KAFKA) and %s" % (
                ", ".join(missing) or "ansible, unbound, dig")
            return
        cls.tmp = pxtest.tmpdir("pdnsx-rollout.")
        cls.org = unique_org("rollout-" + cls.resolver)
        cls.domain = cls.org + ".net"
        cls.query_name = "www." + cls.domain
        try:
            cls.deb = os.environ.get("PDNSX_ROLLOUT_DEB") or cls.build_deb()
            cls.secure = bool(os.environ.get("PDNSX_TEST_KAFKA_SECURE"))
            cls.saved = os.path.join(cls.tmp, "saved")
            os.makedirs(cls.saved)
            for f in BIND_FILES:
                shutil.copy(f, cls.saved)
            clean_machine(cls.saved)
            cls.dns_port = pxtest.free_port()
            cls.write_resolver_config()
            cls.inventory = cls.write_inventory()
            cls.first_log, cls.first_rc = cls.play("first")
        except BaseException:
            clean_machine(getattr(cls, "saved", None))
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.skip is None:
            logs = glob.glob("/var/log/pdnsx/*.log")
            for f in logs:
                shutil.copy(f, cls.tmp)
            clean_machine(cls.saved)
            print("rollout logs kept in", cls.tmp)

    def setUp(self):
        if self.skip:
            need_fixture(self, False, self.skip)
        self.assertEqual(self.first_rc, 0, "site.yml failed:\n" + self.first_log[-6000:])

    # --- the set-up ---------------------------------------------------------

    @classmethod
    def build_deb(cls):
        """The .deb as docs/OPERATIONS.md ("Package") builds it:
        packaging/deb/build-deb.sh (prefix /usr, Debian's build flags) in
        the build directory package/deb uses (BUILD/package-deb: built
        once for both), once for both resolvers."""
        if DEB:
            return DEB[0]
        out = sh(os.path.join(SRC, "packaging", "deb", "build-deb.sh"),
                 os.path.join(os.path.dirname(BIN), "package-deb"), "-B",
                 os.path.join(cls.tmp, "deb"), timeout=1200).stdout.split()
        if len(out) != 1 or not out[0].endswith(".deb"):
            raise AssertionError("build-deb.sh printed %r" % out)
        DEB.append(out[0])
        return out[0]

    @classmethod
    def write_resolver_config(cls):
        """The resolver as the operator had it before the rollout, answering
        one zone of its own on loopback and never querying anything outside
        (no root priming, no trust anchor probe)."""
        if cls.resolver == "unbound":
            with open(UNBOUND_SNIPPET, "w") as f:
                f.write("""server:
    interface: 127.0.0.1
    port: {port}
    do-not-query-address: 0.0.0.0/0
    do-not-query-address: ::/0
    local-zone: "{d}." static
    local-data: "www.{d}. 300 IN A {a}"
""".format(port=cls.dns_port, d=cls.domain, a=ADDRESS))
            return
        with open("/etc/bind/named.conf.options", "w") as f:
            f.write("""options {
	directory "/var/cache/bind";
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
""" % cls.dns_port)
        with open("/etc/bind/named.conf.local", "a") as f:
            f.write('zone "%s" { type primary; file "%s"; };\n' % (cls.domain, BIND_ZONE))
        with open(BIND_ZONE, "w") as f:
            f.write("""$TTL 300
@ IN SOA ns1.{d}. hostmaster.{d}. 1 3600 600 86400 300
@ IN NS ns1.{d}.
ns1 IN A {a}
www IN A {a}
""".format(d=cls.domain, a=ADDRESS))

    @classmethod
    def write_inventory(cls):
        """An inventory like ansible/inventory/example: this host in every
        group, the passwords in an ansible-vault file."""
        inv = os.path.join(cls.tmp, "inventory")
        os.makedirs(os.path.join(inv, "group_vars", "all"))
        local = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
        groups = ["edge_sensors", "central_consumers"] + (["kafka"] if cls.secure else [])
        hosts = {"all": {"hosts": {"localhost": local},
                         "children": {g: {"hosts": {"localhost": {}}} for g in groups}}}
        with open(os.path.join(inv, "hosts.yml"), "w") as f:
            json.dump(hosts, f)
        # The broker keeps SCRAM users: a consumer principal of this run's own.
        cls.consumer = "consumer-" + cls.org
        cls.passwords = {cls.org: secrets.token_hex(12), cls.consumer: secrets.token_hex(12)}
        cls.metrics = {"producer": pxtest.free_port(), "consumer": pxtest.free_port()}
        v = {
            "pdnsx_package_source": "deb",
            "pdnsx_package_deb": cls.deb,
            "pdnsx_org": cls.org,
            "pdnsx_resolver": cls.resolver,
            "pdnsx_kafka_passwords": "{{ vault_pdnsx_kafka_passwords }}",
            "pdnsx_producer_window_seconds": 1,
            "pdnsx_producer_metrics_listen": "127.0.0.1:%d" % cls.metrics["producer"],
            "pdnsx_consumer_metrics_listen": "127.0.0.1:%d" % cls.metrics["consumer"],
            "pdnsx_consumer_group": "pdnsx-rollout-" + cls.org,
            "pdnsx_kafka_consumer_principal": cls.consumer,
            "pdnsx_consumer_batch_ms": 200,
        }
        if cls.secure:
            v.update({
                "pdnsx_kafka_brokers": os.environ["PDNSX_TEST_KAFKA_SECURE"],
                "pdnsx_kafka_security_protocol": "SASL_SSL",
                "pdnsx_kafka_sasl_mechanism": "SCRAM-SHA-512",
                "pdnsx_kafka_ca_file": os.environ["PDNSX_TEST_KAFKA_CA"],
                "pdnsx_kafka_admin_bootstrap": os.environ["PDNSX_TEST_KAFKA_SECURE"],
                "pdnsx_kafka_admin_properties_file":
                    os.environ["PDNSX_TEST_KAFKA_ADMIN_PROPERTIES"],
                "pdnsx_kafka_tools_dir": os.environ["PDNSX_TEST_KAFKA_BIN"],
                "pdnsx_kafka_partitions": 2,
                "pdnsx_kafka_replication_factor": 1,
            })
        else:
            v.update({"pdnsx_kafka_brokers": os.environ["PDNSX_TEST_KAFKA"],
                      "pdnsx_kafka_security_protocol": "PLAINTEXT"})
        with open(os.path.join(inv, "group_vars", "all", "rollout.yml"), "w") as f:
            json.dump(v, f, indent=1)
        cls.vault_pw = os.path.join(cls.tmp, "vault-password")
        with open(cls.vault_pw, "w") as f:
            f.write(secrets.token_hex(16) + "\n")
        vault = os.path.join(inv, "group_vars", "all", "vault.yml")
        with open(vault, "w") as f:
            json.dump({"vault_pdnsx_kafka_passwords": cls.passwords}, f)
        sh("ansible-vault", "encrypt", "--vault-password-file", cls.vault_pw, vault)
        return inv

    @classmethod
    def play(cls, tag, extra=()):
        """Runs site.yml; returns (its output, exit status)."""
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ANSIBLE, "ansible.cfg"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
                   ANSIBLE_LOCAL_TEMP=cls.tmp, ANSIBLE_REMOTE_TEMP=cls.tmp)
        args = ["ansible-playbook", "-i", os.path.join(cls.inventory, "hosts.yml"),
                "--vault-password-file", cls.vault_pw, os.path.join(ANSIBLE, "site.yml")]
        r = subprocess.run(args + list(extra), capture_output=True, text=True, env=env,
                           cwd=ANSIBLE, timeout=900)
        with open(os.path.join(cls.tmp, "ansible-%s.log" % tag), "w") as f:
            f.write(r.stdout + r.stderr)
        return r.stdout + r.stderr, r.returncode

    # --- what an operator checks ----------------------------------------------

    def test_files_and_modes(self):
        """Configs and credentials are where ansible/README.md says, with the
        modes it says: configs world-readable with no secret in them, Kafka
        properties pdnsx 0600, the store and spool pdnsx 0700, the socket's
        directory pdnsx:pdnsx 0750 (the group pdnsx reaches the socket and
        nothing else)."""
        pdnsx = pwd.getpwnam("pdnsx")
        expect = {"/etc/pdnsx/pdnsx-producer.conf": ("root", "root", 0o644),
                  "/etc/pdnsx/pdnsx-consumer.conf": ("root", "root", 0o644),
                  "/etc/pdnsx/kafka.properties": ("pdnsx", "pdnsx", 0o600),
                  "/etc/pdnsx/kafka-consumer.properties": ("pdnsx", "pdnsx", 0o600),
                  "/var/lib/pdnsx": ("pdnsx", "pdnsx", 0o700),
                  "/var/spool/pdnsx": ("pdnsx", "pdnsx", 0o700),
                  "/run/pdnsx": ("pdnsx", "pdnsx", 0o750),
                  "/run/pdnsx/dnstap.sock": ("pdnsx", "pdnsx", 0o660)}
        for path, (owner, group, mode) in expect.items():
            st = os.stat(path)
            self.assertEqual((pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                              stat.S_IMODE(st.st_mode)), (owner, group, mode), path)
        self.assertEqual(pdnsx.pw_name, "pdnsx")
        for conf in ("/etc/pdnsx/pdnsx-producer.conf", "/etc/pdnsx/pdnsx-consumer.conf"):
            self.assertNotIn("password", open(conf).read())
        props = open("/etc/pdnsx/kafka.properties").read()
        cprops = open("/etc/pdnsx/kafka-consumer.properties").read()
        if self.secure:
            self.assertIn("sasl.username=%s\n" % self.org, props)
            self.assertIn("sasl.password=%s\n" % self.passwords[self.org], props)
            self.assertIn("sasl.username=%s\n" % self.consumer, cprops)
            self.assertIn("ssl.ca.location=/etc/pdnsx/kafka-ca.pem\n", props)
        self.assertIn("compression.codec=zstd\n", props)
        self.assertIn("security.protocol=%s\n" % ("SASL_SSL" if self.secure else "PLAINTEXT"),
                      cprops)
        # The resolver's user reaches the socket through group pdnsx, and
        # the resolver sends dnstap to it through its own include mechanism.
        self.assertIn(self.resolver, grp.getgrnam("pdnsx").gr_mem)
        self.check_resolver_config()

    def test_configs_templated_and_valid(self):
        """The configs hold the inventory's values and pass --check."""
        conf = open("/etc/pdnsx/pdnsx-producer.conf").read()
        self.assertIn('org = "%s";' % self.org, conf)
        self.assertIn('path = "/run/pdnsx/dnstap.sock"', conf)
        self.assertIn('path = "/var/spool/pdnsx/producer.spool"', conf)
        for prog, path in (("pdnsx-producer", "/etc/pdnsx/pdnsx-producer.conf"),
                           ("pdnsx-consumer", "/etc/pdnsx/pdnsx-consumer.conf")):
            r = sh("/usr/bin/" + prog, "--check", "-c", path, check=False)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_daemons_run_as_pdnsx(self):
        """Without systemd the roles chose the direct service manager: each
        daemon runs from the package as user pdnsx, with its pidfile; the
        resolver runs too."""
        uid = pwd.getpwnam("pdnsx").pw_uid
        for name, pidfile in PIDFILES.items():
            pid = running_pid(pidfile, "/usr/bin/" + name)
            self.assertIsNotNone(pid, name + " is not running")
            self.assertEqual(proc_uid(pid), uid, name)
        self.assertIsNotNone(running_pid(*RESOLVERS[self.resolver]), self.resolver)
        self.assertTrue(stat.S_ISSOCK(os.stat("/run/pdnsx/dnstap.sock").st_mode))

    def test_traffic_reaches_query(self):
        """A name asked of the resolver comes out of pdnsx-query: resolver ->
        dnstap -> producer -> Kafka -> consumer -> store."""
        args = ["/usr/bin/pdnsx-query", "-c", "/etc/pdnsx/pdnsx-consumer.conf", "rrset",
                self.query_name]

        def found():
            # Asked again each time: Unbound drops dnstap messages until
            # its connection to the producer's socket is up.
            d = sh("dig", "+short", "+time=2", "+tries=1", "-p", str(self.dns_port),
                   "@127.0.0.1", self.query_name, "A", check=False)
            self.assertEqual(d.stdout.split(), [ADDRESS], d.stderr)
            r = sh(*args, check=False)
            return [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
        recs = wait_for(found, 90, "%s in pdnsx-query" % self.query_name, interval=0.5)
        self.assertEqual([(r["rrname"], r["rrtype"], r["rdata"]) for r in recs],
                         [(self.query_name, "A", ADDRESS)])

    def test_topics_and_acls(self):
        """The pdnsx_kafka role made the organisation's topic with the
        partitions asked, the shared topics, and the ACLs: the organisation
        writes its topic, the consumers read it."""
        # Without the harness's SASL_SSL listener the rollout ran over
        # PLAINTEXT without pdnsx_kafka: skipped, failed in CI.
        need_fixture(self, self.secure,
                     "the harness's SASL_SSL listener (PDNSX_TEST_KAFKA_SECURE)")
        kbin = os.environ["PDNSX_TEST_KAFKA_BIN"]
        conn = ["--bootstrap-server", os.environ["PDNSX_TEST_KAFKA_SECURE"],
                "--command-config", os.environ["PDNSX_TEST_KAFKA_ADMIN_PROPERTIES"]]
        topic = "pdnsx.obs." + self.org
        out = sh(kbin + "/kafka-topics.sh", *conn, "--describe", "--topic", topic).stdout
        self.assertRegex(out, r"Topic: %s\s.*PartitionCount: 2\b" % re.escape(topic))
        listed = sh(kbin + "/kafka-topics.sh", *conn, "--list").stdout.split()
        for t in ("pdnsx.alerts", "pdnsx.dlq", "pdnsx.state"):
            self.assertIn(t, listed)
        # every ACL that applies to the topic, the consumers' prefixed one too
        acls = sh(kbin + "/kafka-acls.sh", *conn, "--list", "--topic", topic,
                  "--resource-pattern-type", "match").stdout
        self.assertRegex(acls, r"principal=User:%s, host=\*, operation=WRITE, "
                               r"permissionType=ALLOW" % re.escape(self.org))
        self.assertRegex(acls, r"principal=User:%s, host=\*, operation=READ, "
                               r"permissionType=ALLOW" % re.escape(self.consumer))

    def test_second_run_changes_nothing(self):
        """With nothing changed, a dry run (--check --diff) and a real run
        both report changed=0, and the daemons keep their pids."""
        before = {n: running_pid(p, "/usr/bin/" + n) for n, p in PIDFILES.items()}
        log, rc = self.play("dry", ["--check", "--diff"])
        self.assertEqual(rc, 0, log[-6000:])
        self.assertEqual(recap(log), (0, 0, 0), log[-6000:])
        log, rc = self.play("second")
        self.assertEqual(rc, 0, log[-6000:])
        self.assertEqual(recap(log), (0, 0, 0), log[-6000:])
        self.assertEqual({n: running_pid(p, "/usr/bin/" + n) for n, p in PIDFILES.items()},
                         before)


class RolloutUnbound(RolloutChecks, unittest.TestCase):
    """An edge sensor beside Unbound (unbound.conf.d)."""
    resolver = "unbound"

    def check_resolver_config(self):
        snippet = open("/etc/unbound/unbound.conf.d/pdnsx-dnstap.conf").read()
        self.assertIn('dnstap-socket-path: "/run/pdnsx/dnstap.sock"', snippet)
        self.assertEqual(sh("unbound-checkconf", check=False).returncode, 0)

    def test_bad_config_never_replaces_the_old_one(self):
        """A variable the producer refuses (window.seconds 0) fails the run at
        the config's --check: the file in place and the running producer
        are left as they were."""
        path = "/etc/pdnsx/pdnsx-producer.conf"
        old = open(path).read()
        pid = running_pid(PIDFILES["pdnsx-producer"], "/usr/bin/pdnsx-producer")
        log, rc = self.play("bad", ["-e", "pdnsx_producer_window_seconds=0"])
        self.assertNotEqual(rc, 0, log[-3000:])
        self.assertIn("window.seconds", log)
        self.assertEqual(open(path).read(), old)
        self.assertEqual(running_pid(PIDFILES["pdnsx-producer"], "/usr/bin/pdnsx-producer"), pid)


class RolloutBind(RolloutChecks, unittest.TestCase):
    """An edge sensor beside BIND (an include file in its options)."""
    resolver = "bind"

    def check_resolver_config(self):
        include = open("/etc/bind/named.conf.pdnsx-dnstap").read()
        self.assertIn('dnstap-output unix "/run/pdnsx/dnstap.sock";', include)
        options = open("/etc/bind/named.conf.options").read()
        self.assertEqual(options.count('include "/etc/bind/named.conf.pdnsx-dnstap";'), 1)
        r = sh("named-checkconf", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
