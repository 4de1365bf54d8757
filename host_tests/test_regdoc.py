"""docs/modbus-registers.md is what tools/regdoc.py makes of the templates: a template
changed without regenerating the table fails here."""
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def test_committed_register_tables_match_the_templates():
    made = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "regdoc.py")],
                          check=True, capture_output=True, text=True).stdout
    with open(os.path.join(ROOT, "docs", "modbus-registers.md")) as f:
        assert f.read() == made, "run: .venv/bin/python tools/regdoc.py > docs/modbus-registers.md"
