"""Runs one unittest module for ctest: exit 0 on success, 77 when every
test was skipped (no real Kafka broker, say), 1 on any failure.

    run_py.py MODULE [NAME...]      those tests only (Class or Class.test)
    run_py.py MODULE -x [NAME...]   every test but those

A long file cut so: ctest tests that ctest -j runs side by side, the last
one whatever the others leave (px_py_test's PARTS, tests/CMakeLists.txt),
so that a test added to the file runs without being named. Each
test's wall time is printed at the end, slowest first (the suite's time
budget: which part of a file costs what)."""
import os
import sys
import time
import unittest


class TimedResult(unittest.TextTestResult):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.times = []

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.times.append((time.monotonic() - self._started, test.id().split(".", 1)[-1]))


path = sys.argv[1]
sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
mod = type(sys)("pxmod")
mod.__file__ = path
exec(compile(open(path).read(), path, "exec"), mod.__dict__)


def flat(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flat(t)
        else:
            yield t


def named(test, names):
    tid = test.id().split(".", 1)[-1]
    return any(tid == n or tid.startswith(n + ".") for n in names)


loader = unittest.defaultTestLoader
args = sys.argv[2:]
if args and args[0] != "-x":
    suite = unittest.TestSuite(loader.loadTestsFromName(n, mod) for n in args)
else:
    every = list(flat(loader.loadTestsFromModule(mod)))
    suite = unittest.TestSuite(t for t in every if not named(t, args[1:]))
    for n in args[1:]:  # a name that matches nothing was renamed: say so
        if not any(named(t, [n]) for t in every):
            sys.exit("run_py: no test %s in %s" % (n, path))
result = unittest.TextTestRunner(verbosity=2, resultclass=TimedResult).run(suite)
for took, name in sorted(result.times, reverse=True):
    print("%7.2f s  %s" % (took, name), file=sys.stderr)
if not result.wasSuccessful():
    sys.exit(1)
if result.testsRun and len(result.skipped) == result.testsRun:
    sys.exit(77)
sys.exit(0)
