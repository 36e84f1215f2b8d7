"""Run moto's server with the catalog test-harness extensions loaded.

    PYTHONPATH=xtask/moto .venv/bin/python -m catalog_moto -H 127.0.0.1 -p PORT

This is exactly `moto_server` (moto.server:main, same arguments), except that
the extension models and patches are imported first. The server runs in the
foreground; moto's main installs SIGINT/SIGTERM handlers that exit cleanly.
"""

import sys

import catalog_moto  # noqa: F401  (installs the extensions before the server starts)
from moto.server import main

if __name__ == "__main__":
    main(sys.argv[1:])
