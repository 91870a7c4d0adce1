# pgha.repmgr get-pip stand-in (written by scripts/sanity.sh; safe to delete)
"""Stand-in for the get-pip script that ansible-test downloads from a host not reachable here.

ansible-test runs it inside each fresh sanity virtualenv as
``python get_pip_X_Y.py --disable-pip-version-check pip==X.Y --no-setuptools --no-wheel``.
We bootstrap pip from the interpreter's own ensurepip, then install the pins it was given
from the package index (setuptools/wheel flags are get-pip's own and mean nothing to pip).
"""

import subprocess
import sys

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")

args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q"] + args)
