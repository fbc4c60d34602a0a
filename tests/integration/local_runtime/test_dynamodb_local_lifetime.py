"""DynamoDB Local and function instances end with the runtime that started them, however it ends;
one DynamoDB Local per data folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from local_runtime import dynamodb_local, template
from local_runtime.dynamodb_local import SetupError
from local_runtime.ports import free_port, listens_on
from tests.support import polling
from tests.support.processes import alive
from tests.support.stub_server import serving


def test_a_second_dynamodb_local_on_the_same_data_is_refused_naming_the_first(tmp_path: Path) -> None:
    first = dynamodb_local.start(None, tmp_path / "dynamodb", lambda _: None)
    try:
        with pytest.raises(SetupError) as refused:
            dynamodb_local.start(None, tmp_path / "dynamodb", lambda _: None)
        assert first.pid is not None
        assert f"DynamoDB Local pid {first.pid}" in str(refused.value)
        assert f"runtime pid {os.getpid()}" in str(refused.value)
        other = dynamodb_local.start(None, tmp_path / "elsewhere", lambda _: None)  # another folder: fine
        other.stop()
    finally:
        first.stop()
    again = dynamodb_local.start(None, tmp_path / "dynamodb", lambda _: None)  # the first one is gone
    again.stop()


RUNTIME = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from local_runtime import dynamodb_local
    server = dynamodb_local.start(None, Path(sys.argv[1]), lambda _: None)
    print(server.pid, server.process.pid, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill -9", "SIGTERM"])
def test_dynamodb_local_ends_with_its_runtime_and_frees_its_data(tmp_path: Path, how: signal.Signals) -> None:
    runtime = subprocess.Popen(
        [sys.executable, "-c", RUNTIME, str(tmp_path / "dynamodb")],
        cwd=template.ROOT,
        env={**os.environ, "PYTHONPATH": str(template.ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert runtime.stdout is not None
    java, watchdog = map(int, runtime.stdout.readline().split())
    assert alive(java) and alive(watchdog)
    runtime.send_signal(how)  # no handler of its own: it ends without stopping anything
    runtime.wait(timeout=10)
    started = time.monotonic()
    assert polling.eventually(lambda: not alive(java), 10, every=0.05), "DynamoDB Local outlived its runtime"
    print(f"DynamoDB Local ended {time.monotonic() - started:.2f}s after its runtime")
    assert polling.eventually(lambda: not alive(watchdog), 2, every=0.05), "its watchdog outlived it"
    dynamodb_local.start(None, tmp_path / "dynamodb", lambda _: None).stop()  # the data is free again


WORKER_PARENT = textwrap.dedent(
    """
    import socket, subprocess, sys, time
    ours, theirs = socket.socketpair()
    worker = subprocess.Popen(
        [sys.executable, "-m", "local_runtime.worker", "--fd", str(theirs.fileno()), "--function", "F",
         "--handler", "app.handler"],
        cwd=sys.argv[1], pass_fds=(theirs.fileno(),), start_new_session=True,
    )
    print(worker.pid, flush=True)
    time.sleep(600)
    """
)


def test_a_function_instance_ends_within_a_second_of_its_runtime_even_mid_invocation(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import time\ndef handler(event, context):\n    time.sleep(600)\n")
    parent = subprocess.Popen(
        [sys.executable, "-c", WORKER_PARENT, str(tmp_path)],
        cwd=template.ROOT,
        env={**os.environ, "PYTHONPATH": f"{template.ROOT}{os.pathsep}{tmp_path}"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert alive(worker)
    parent.kill()  # kill -9: the channel stays open in nobody's hands, the instance is not told
    parent.wait(timeout=10)
    assert polling.eventually(lambda: not alive(worker), 2, every=0.02), "the instance outlived its runtime"


class _AnotherServer(BaseHTTPRequestHandler):
    """Answers as DynamoDB Local does a bare GET (400), without being it."""

    def do_GET(self) -> None:
        self.send_response(400)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_port_taken_between_choosing_and_binding_is_never_mistaken_for_our_dynamodb_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another server takes the chosen port before the JVM binds it (two runs starting at once): the
    start must not take that server's answers for its own DynamoDB Local (two runs would share one
    database); it fails on that port, and `start()` takes another."""
    with serving(_AnotherServer) as other:
        taken = int(other.rsplit(":", 1)[1])
        chosen = [taken, free_port()]
        monkeypatch.setattr(dynamodb_local, "free_port", lambda: chosen.pop(0))
        monkeypatch.setattr(dynamodb_local, "port_is_free", lambda port: True)  # the check passed; then it was taken
        server = dynamodb_local.start(progress=lambda _: None)
        try:
            assert chosen == []  # the taken port was tried first
            assert server.port != taken
            assert server.pid is not None and listens_on(server.pid, server.port)
        finally:
            server.stop()
