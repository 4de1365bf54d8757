import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "core"), os.path.join(HERE, "..", "firmware", "lib")]
