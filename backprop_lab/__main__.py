"""``python -m backprop_lab``: the same as the ``backprop-lab`` command."""

import sys

from backprop_lab.cli import main

sys.exit(main())
