"""Letting go of a module the firmware no longer needs: its functions, classes and
globals are freed once nothing else refers to them (on the device, where heap is short,
a module imported for a moment should not stay for good)."""
import sys


def forget(name):
    """Drop the module name ("pkg.mod") from sys.modules and from its package."""
    sys.modules.pop(name, None)
    pkg, _, short = name.rpartition(".")
    parent = sys.modules.get(pkg) if pkg else None
    if parent is not None and short in parent.__dict__:
        delattr(parent, short)
