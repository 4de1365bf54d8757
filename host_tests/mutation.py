"""Byte edits for the fuzz tests: a few changes to a valid input, what a broken or hostile
sender gets wrong (a byte set, inserted or deleted, the rest cut off)."""
from hypothesis import strategies as st


def edits(reach, most):
    """Lists of 1 to most (operation, position, byte); positions wrap at the data's end."""
    return st.lists(st.tuples(st.sampled_from(("set", "insert", "delete", "cut")),
                              st.integers(0, reach), st.integers(0, 255)),
                    min_size=1, max_size=most)


def mutate(data, edits):
    d = bytearray(data)
    for op, at, value in edits:
        at %= len(d) + 1
        if op == "set" and at < len(d):
            d[at] = value
        elif op == "insert":
            d[at:at] = bytes((value,))
        elif op == "delete":
            del d[at:at + 1]
        elif op == "cut":
            del d[at:]
    return bytes(d)
