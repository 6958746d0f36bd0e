"""Runs one unittest module for ctest: exit 0 on success, 77 when every
test was skipped (no real Kafka broker, say), 1 on any failure."""
import os
import sys
import unittest

path = sys.argv[1]
sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
mod = type(sys)("pxmod")
mod.__file__ = path
exec(compile(open(path).read(), path, "exec"), mod.__dict__)
suite = unittest.defaultTestLoader.loadTestsFromModule(mod)
result = unittest.TextTestRunner(verbosity=2).run(suite)
if not result.wasSuccessful():
    sys.exit(1)
if result.testsRun and len(result.skipped) == result.testsRun:
    sys.exit(77)
sys.exit(0)
