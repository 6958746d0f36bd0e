"""A damaged store, end to end (issue 9, item 2).

pdnsx-bench-obsgen publishes observations of three organisations to
pdnsx-broker; pdnsx-consumer merges two of them into a store, which
pdnsx-query reads as the reference. Copies of that store are then damaged
the ways the issue found (data.mdb cut in half and to 8 KiB, random bit
flips with fixed seeds, 200 flipped bits, 20 pages overwritten with 0xFF, a
pending batch.log with a flipped byte), and for each copy:

- pdnsx-query rrset '*.com' does not crash (no signal, no sanitizer
  report); every line it prints is a line of the undamaged store's answer;
  it exits 0 with the whole answer, or 1 saying the store is damaged;
- pdnsx-query verify exits 1 naming what is damaged (0 on the undamaged
  store), and exits 0 only where the query gave the whole answer;
- pdnsx-consumer, with the third organisation's messages waiting, refuses a
  store that verify calls damaged (exit 1, an error saying so, data.mdb
  left byte for byte as it was) and merges into one it calls clean.

verify also runs while a consumer merges into a clean copy: it must find
nothing at any moment."""
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

OBSGEN = os.path.join(os.path.dirname(pxtest.BIN), "bench", "pdnsx-bench-obsgen")
STORE_TOOL = os.path.join(os.path.dirname(pxtest.BIN), "tests", "px-store-tool")
PAGE = 4096
SANITIZER = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")


def run(cmd, timeout=300):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def part(path):
    """The first partition store of the consumer's store.path (a directory
    of one store per partition: docs/STORE-FORMAT.md)."""
    parts = sorted(int(n[len("partition-"):]) for n in os.listdir(path)
                   if n.startswith("partition-"))
    if not parts:
        raise AssertionError("no partition store in %s: %s" % (path, os.listdir(path)))
    return os.path.join(path, "partition-%d" % parts[0])


def damage(path, kind, seed):
    """Damages data.mdb (or batch.log) of path's first partition store the
    way `kind` says."""
    path = part(path)
    rng = random.Random(seed)
    if kind == "batch.log":
        log = os.path.join(path, "batch.log")
        with open(log, "r+b") as f:
            size = os.path.getsize(log)
            f.seek(size - 5)
            b = f.read(1)
            f.seek(size - 5)
            f.write(bytes([b[0] ^ 0x20]))
        return
    p = os.path.join(path, "data.mdb")
    with open(p, "rb") as f:
        data = bytearray(f.read())
    if kind == "half":
        data = data[:len(data) // 2]
    elif kind == "8k":
        data = data[:8192]
    elif kind.startswith("flip"):
        for _ in range(int(kind[4:])):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == "ff20":
        for pg in rng.sample(range(2, len(data) // PAGE), 20):
            data[pg * PAGE:(pg + 1) * PAGE] = b"\xff" * PAGE
    else:
        raise AssertionError("unknown damage " + kind)
    with open(p, "wb") as f:
        f.write(bytes(data))


class StoreDamage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = pxtest.tmpdir("pdnsx-damage-")
        cls.broker = pxtest.Broker()
        cls.run_id = pxtest.unique_org("dm")
        cls.groups = 0
        out = run([OBSGEN, "-b", cls.broker.bootstrap, "-n", "30000", "-k", "15000", "-D",
                   "2500", "-s", "9", "-p", cls.run_id, "-o", "3"], timeout=300)
        if out.returncode != 0:
            raise AssertionError("obsgen: " + out.stderr)
        cls.store = os.path.join(cls.dir, "store")
        rc, err = cls.consumer(cls.store, "[ab]")
        if rc != 0:
            raise AssertionError("building the store: " + err)
        rc, lines, err = cls.query(cls.store, "rrset", "*.com")
        if rc != 0 or len(lines) < 1000:
            raise AssertionError("reference query: %d %d %s" % (rc, len(lines), err))
        cls.ref = lines

    @classmethod
    def tearDownClass(cls):
        cls.broker.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def consumer(cls, store, orgs=".+", extra=(), wait=True):
        """Runs pdnsx-consumer until it has nothing more to read."""
        cls.groups += 1
        cmd = [os.path.join(pxtest.BIN, "pdnsx-consumer"),
               "-s", 'kafka.brokers="%s"' % cls.broker.bootstrap,
               *pxtest.NO_CHANGELOG, "-s", 'kafka.group="%s-%d"' % (cls.run_id, cls.groups),
               "-s", 'kafka.topics="^pdnsx\\\\.obs\\\\.%s-%s$"' % (cls.run_id, orgs),
               "-s", 'store.path="%s"' % store, "-s", "run.exit_idle=3"] + list(extra)
        if not wait:  # its log in a file: a pipe nobody reads would stop it when full
            log = open(os.path.join(cls.dir, "consumer-%d.log" % cls.groups), "w+")
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True)
            proc.log = log
            return proc
        out = run(cmd, timeout=300)
        return out.returncode, out.stderr

    @classmethod
    def query(cls, store, *args):
        """pdnsx-query on store; a lookup without a limit of its own
        (query.limit, 10,000) so that it reads the whole store."""
        limit = ["--limit", "1000000"] if args[0] in ("rrset", "rdata") else []
        out = run([os.path.join(pxtest.BIN, "pdnsx-query"), "-s",
                   'store.path="%s"' % store] + limit + list(args))
        return out.returncode, out.stdout.splitlines(), out.stderr

    def copy(self, name):
        path = os.path.join(self.dir, name)
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(self.store, path)
        return path

    def no_crash(self, what, rc, err):
        self.assertGreaterEqual(rc, 0, "%s died of signal %d: %s" % (what, -rc, err[-2000:]))
        for s in SANITIZER:
            self.assertNotIn(s, err, what)

    def check(self, path, must_be_damaged):
        """The three programs on the store in path; returns verify's status."""
        rc, lines, err = self.query(path, "rrset", "*.com")
        self.no_crash("pdnsx-query", rc, err)
        ref = set(self.ref)
        alien = [line for line in lines if line not in ref]
        self.assertEqual(alien, [], "pdnsx-query printed records the store never held")
        self.assertIn(rc, (0, 1), err)
        if rc == 0:
            self.assertEqual(sorted(lines), sorted(self.ref), "exit 0 with a partial answer")
        else:
            self.assertIn("damaged", err)

        vrc, vout, verr = self.query(path, "verify")
        self.no_crash("pdnsx-query verify", vrc, verr)
        self.assertIn(vrc, (0, 1), verr)
        if must_be_damaged or rc == 1:
            self.assertEqual(vrc, 1, "verify found nothing:\n%s%s" % ("\n".join(vout), verr))
        if vrc == 1:
            said = [line for line in vout + verr.splitlines() if "damaged:" in line]
            self.assertTrue(said, "verify named nothing:\n%s\n%s" % ("\n".join(vout), verr))
        else:
            self.assertEqual(rc, 0)
            self.assertTrue(vout and vout[-1].endswith("no damage found"), vout)

        before = sha256(os.path.join(part(path), "data.mdb"))
        crc, cerr = self.consumer(path)
        self.no_crash("pdnsx-consumer", crc, cerr)
        if vrc == 1:
            self.assertEqual(crc, 1, cerr[-3000:])
            self.assertIn("damaged", cerr)
            self.assertEqual(sha256(os.path.join(part(path), "data.mdb")), before,
                             "the consumer wrote into a damaged store")
        else:
            self.assertEqual(crc, 0, cerr[-3000:])
        return vrc

    def test_undamaged(self):
        vrc, vout, verr = self.query(self.store, "verify")
        self.assertEqual(vrc, 0, "\n".join(vout) + verr)
        self.assertTrue(vout[-1].endswith("no damage found"), vout)
        # verify walks the whole local store: a lookup's options are bad usage
        for opt in (["--limit", "5"], ["--after", "0"], ["--cluster", "127.0.0.1:1"]):
            with self.subTest(opt=opt):
                rc, _, err = self.query(self.store, *(opt + ["verify"]))
                self.assertEqual(rc, 2, err)
                self.assertIn("verify takes no arguments", err)

    def test_cut(self):
        for kind in ("half", "8k"):
            with self.subTest(kind=kind):
                path = self.copy(kind)
                damage(path, kind, 0)
                self.check(path, True)
                rc, vout, _ = self.query(path, "verify")
                self.assertIn("cut short", "\n".join(vout))

    def test_pages_ff(self):
        path = self.copy("ff20")
        damage(path, "ff20", 20)
        self.check(path, True)

    def test_bit_flips(self):
        damaged = 0
        for seed in (1, 2, 3, 4):
            with self.subTest(seed=seed):
                path = self.copy("flip%d" % seed)
                damage(path, "flip20", seed)
                damaged += self.check(path, False)
        self.assertGreater(damaged, 0, "no seed damaged anything the programs read")

    def test_200_bits(self):
        path = self.copy("flip200")
        damage(path, "flip200", 200)
        self.check(path, True)

    def test_batch_log(self):
        """A committed batch whose log was damaged before it was applied."""
        path = self.copy("log")
        out = run([STORE_TOOL, "pending", part(path), "5000"])
        self.assertEqual(out.returncode, 0, out.stderr)
        damage(path, "batch.log", 0)
        rc, vout, verr = self.query(path, "verify")
        self.no_crash("pdnsx-query verify", rc, verr)
        self.assertEqual(rc, 1)
        self.assertTrue(any(line.startswith("damaged: batch.log:") for line in vout), vout)
        rc, lines, err = self.query(path, "rrset", "*.com")
        self.no_crash("pdnsx-query", rc, err)
        self.assertEqual(sorted(lines), sorted(self.ref))  # data.mdb itself is sound
        before = sha256(os.path.join(part(path), "data.mdb"))
        crc, cerr = self.consumer(path)
        self.no_crash("pdnsx-consumer", crc, cerr)
        self.assertEqual(crc, 1, cerr[-3000:])
        self.assertIn("batch.log", cerr)
        self.assertIn("cannot be applied", cerr)
        self.assertEqual(sha256(os.path.join(part(path), "data.mdb")), before)
        # told to, it drops what cannot be applied and goes on
        crc, cerr = self.consumer(path, extra=["-s", "store.drop_damaged_log=true"])
        self.no_crash("pdnsx-consumer", crc, cerr)
        self.assertEqual(crc, 0, cerr[-3000:])
        self.assertIn("store.drop_damaged_log", cerr)
        rc, vout, verr = self.query(path, "verify")
        self.assertEqual(rc, 0, "\n".join(vout) + verr)

    def test_verify_while_consumer_runs(self):
        path = self.copy("live")
        proc = self.consumer(path, wait=False)
        runs = 0
        deadline = time.monotonic() + 240
        try:
            while proc.poll() is None or runs == 0:
                self.assertLess(time.monotonic(), deadline, "the consumer did not finish")
                rc, vout, verr = self.query(path, "verify")
                self.assertEqual(rc, 0, "\n".join(vout) + verr)
                runs += 1
            proc.log.seek(0)
            self.assertEqual(proc.wait(timeout=60), 0, proc.log.read()[-3000:])
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            proc.log.close()
        self.assertGreater(runs, 1)
        rc, lines, err = self.query(path, "rrset", "*.com")
        self.assertEqual(rc, 0, err)
        self.assertTrue(set(self.ref) - set(lines), "the third organisation was not merged")


if __name__ == "__main__":
    unittest.main(verbosity=2)
