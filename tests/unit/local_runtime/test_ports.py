"""Which process listens on a port, read from /proc: how DynamoDB Local's start tells its own JVM
from another server that took the port between choosing it and binding it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from local_runtime.ports import free_port, listens_on


def test_a_process_listening_on_a_port_is_found_there_and_nowhere_else() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert listens_on(os.getpid(), port) is True
        assert listens_on(os.getpid(), free_port()) is False
    assert listens_on(os.getpid(), port) is False  # closed


def test_another_process_is_not_the_listener_of_our_port() -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with socket.socket(socket.AF_INET6) as server:  # every address, as the JVM binds
            server.bind(("::", 0))
            server.listen()
            port = server.getsockname()[1]
            assert listens_on(os.getpid(), port) is True
            assert listens_on(other.pid, port) is False
    finally:
        other.kill()
        other.wait()
    assert listens_on(other.pid, port) is False  # gone
