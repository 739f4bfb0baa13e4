"""`make run`: fail at once, before installing or printing anything, when the port is busy.

Standard library only: it runs with the system's python3, before the virtualenv exists.
"""

from __future__ import annotations

import socket
import sys


def main(host: str, port: str) -> int:
    try:
        number = int(port)
    except ValueError:
        print(f"error: PORT must be a number, got {port!r}", file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, number))
    except OSError:
        print(f"error: port {number} on {host} is busy (is bankfeeds already running?). "
              f"Stop what uses it, or choose another port: make run PORT={number + 1}", file=sys.stderr)
        return 1
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
