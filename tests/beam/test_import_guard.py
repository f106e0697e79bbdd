"""Without Apache Beam, `import aesthetics.beam` says how to install it
(runs whether or not apache_beam is installed: it hides it)."""

import subprocess
import sys

CODE = """
import sys
sys.modules["apache_beam"] = None  # import apache_beam -> ImportError, as when absent
from aesthetics.errors import AestheticsError
try:
    import aesthetics.beam
except AestheticsError as e:
    print("AestheticsError:", e)
else:
    print("imported")
"""


def test_import_without_beam_is_one_line_error():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, out.stdout
    assert lines[0].startswith("AestheticsError:")
    assert "pip install 'aesthetics[beam]'" in lines[0]
