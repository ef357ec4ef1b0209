"""``python -m audiokit ...``: the same as the ``audiokit`` command."""
import sys

from audiokit.cli import main

sys.exit(main())
