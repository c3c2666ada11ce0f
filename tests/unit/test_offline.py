import socket
import threading

import pytest

from copilot.core import offline
from copilot.core.errors import NetworkRefused


@pytest.fixture(autouse=True)
def guard(tmp_path):
    offline.install(tmp_path / "offline.log")
    yield tmp_path / "offline.log"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", None, ""])
def test_loopback_is_local(host) -> None:
    assert offline.is_local(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.1", "8.8.8.8", "example.com", "2001:db8::1"])
def test_everything_else_is_not(host) -> None:
    assert not offline.is_local(host)


def test_flags_are_set() -> None:
    assert all(offline.flags_status()[k] == v for k, v in offline.FLAGS.items())


def test_outbound_connect_is_refused_and_recorded(guard) -> None:
    before = len(offline.attempts())
    with socket.socket() as s, pytest.raises(NetworkRefused):
        s.connect(("192.0.2.1", 443))
    with pytest.raises(ConnectionRefusedError):  # libraries see an ordinary refusal
        socket.getaddrinfo("huggingface.co", 443)
    seen = offline.attempts()[before:]
    assert [a.target for a in seen] == ["192.0.2.1:443", "huggingface.co:443"]
    assert seen[0].where.endswith(".py:" + seen[0].where.rsplit(":", 1)[1])
    logged = offline.logged_attempts(guard)
    assert [a.target for a in logged] == ["192.0.2.1:443", "huggingface.co:443"]


def test_loopback_connections_still_work() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def accept() -> None:
        conn, _ = server.accept()
        conn.sendall(b"hi")
        conn.close()

    t = threading.Thread(target=accept)
    t.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(2) == b"hi"
    t.join()
    server.close()


def test_self_test_refuses_without_recording(guard) -> None:
    before = len(offline.attempts())
    assert offline.self_test()
    assert len(offline.attempts()) == before


def test_only_the_firm_s_own_servers_that_the_config_names_are_let_through(tmp_path) -> None:
    """A firm server's model servers and Chroma may be other hosts: those, and nothing else."""
    import subprocess
    import sys

    code = (
        "from pathlib import Path\n"
        "from copilot.core import offline\n"
        "from copilot.core.config import Config\n"
        "offline.install()\n"
        "c = Config(home=Path('.'), chroma_url='http://192.0.2.10:8000',\n"
        "           model_endpoints='http://192.0.2.11:8080, http://gpu2.firm.invalid:8080/')\n"
        "print(c.firm_hosts)\n"
        "offline.allow(c.firm_hosts)\n"
        "for host in ('192.0.2.10', '192.0.2.11', 'GPU2.firm.invalid', '192.0.2.12', 'huggingface.co'):\n"
        "    print(host, offline.is_local(host))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.split("\n")
    assert out[0] == "('192.0.2.10', '192.0.2.11', 'gpu2.firm.invalid')"
    assert out[1:6] == ["192.0.2.10 True", "192.0.2.11 True", "GPU2.firm.invalid True", "192.0.2.12 False",
                        "huggingface.co False"]
