"""Runs the portable test modules on the MicroPython unix port (no pytest there):
every test_* function of every module named on the command line. Exit 1 on failure."""
import gc
import sys

_here = __file__.rsplit("/", 1)[0]
sys.path[:0] = [_here, _here + "/../../firmware/lib"]

passed = 0
failed = 0
for mod_name in sys.argv[1:]:
    mod = __import__(mod_name)
    for name in sorted(dir(mod)):
        if not name.startswith("test_"):
            continue
        gc.collect()  # each test starts with the garbage of the last one freed
        try:
            getattr(mod, name)()
            passed += 1
        except Exception as e:  # report every failure, then fail the run
            failed += 1
            print("FAIL %s.%s" % (mod_name, name))
            sys.print_exception(e)
print("micropython: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
