"""``python -m audiokit.export.host [OUT]``: compile the C++ effect host (default ./effect_host)."""
import sys

from audiokit.export.host import build_host

print(build_host(sys.argv[1] if len(sys.argv) > 1 else "effect_host", force=True))
