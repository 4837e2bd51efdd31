"""``nbwizard serve`` refuses what a DNS-rebinding page or another local user would try, and prints a URL that works.

The server tests start the real command (no browser: plain HTTP requests), on a port that is already taken so the
printed URL has to name the port the server really got.
"""

from __future__ import annotations

import http.client
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from nbwizard._voila_app import host_allowed
from nbwizard.cli import CliError, allowed_host, serve_command
from serving import served

PROXY_NAME = "wizard.example.org"
WIDGET = "application/vnd.jupyter.widget-view+json"  # in the page once the notebook ran (its code is not shown)


def _get(url: str, host: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, str]:
    """One GET without following redirects: status, headers, body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.putrequest("GET", path, skip_host=host is not None)
        if host is not None:
            conn.putheader("Host", host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.msg, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``nbwizard serve --port P --allow-host wizard.example.org`` while P is taken by another program, started in
    a folder holding a stray ``voila.py`` (plain Voilà would run it as its configuration, and ``python -m`` would
    import it in place of Voilà: the server would not start)."""
    work = tmp_path_factory.mktemp("serve")
    (work / "voila.py").write_text(f"open({str(work / 'stray-config-ran')!r}, 'w').close()\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with served(work, "--port", str(port), "--allow-host", PROXY_NAME) as (proc, url):
            yield proc, url, port, work


@pytest.fixture(scope="module")
def wizard_page(server):
    """The page at the printed URL, fetched once (each page load starts a kernel that runs the notebook)."""
    return _get(server[1])


def _token(url: str) -> str:
    return re.search(r"[?&]token=([^&]+)", url).group(1)


def _root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


NO_KERNEL = "api/kernels/00000000-0000-0000-0000-000000000000"


def test_the_printed_url_opens_the_wizard_page(wizard_page):
    status, _, body = wizard_page
    assert status == 200 and "<title>nbwizard</title>" in body and WIDGET in body


def test_the_printed_port_is_the_one_the_server_got_when_the_asked_port_was_taken(server, wizard_page):
    _, url, taken, _ = server
    assert urlsplit(url).port != taken
    assert wizard_page[0] == 200


def test_a_request_for_a_foreign_host_is_refused_even_with_the_token(server):
    _, url, *_ = server
    port = urlsplit(url).port
    for host in ("attacker.example", f"attacker.example:{port}", f"localhost.attacker.example:{port}"):
        for target in (url, _root(url) + "voila/static/voila.js", _root(url) + NO_KERNEL, _root(url) + "login"):
            status, _, body = _get(target, host=host, headers={"Authorization": f"token {_token(url)}"})
            assert status == 403, (host, target, status)
            assert WIDGET not in body


def test_local_names_and_the_allowed_host_are_served(server):
    _, url, *_ = server
    port = urlsplit(url).port
    auth = {"Authorization": f"token {_token(url)}"}
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", PROXY_NAME, f"{PROXY_NAME.upper()}:443"):
        assert _get(_root(url) + "voila/static/voila.js", host=host)[0] == 200, host
        assert _get(_root(url) + NO_KERNEL, host=host, headers=auth)[0] == 404, host  # past the check and the token


def test_a_request_without_the_token_gets_no_page_and_no_kernel(server):
    _, url, *_ = server
    status, headers, body = _get(_root(url))
    assert status == 302 and "/login" in headers["Location"] and WIDGET not in body
    status, headers, _ = _get(_root(url) + "?token=" + "0" * 48)  # a wrong token is no better
    assert status == 302 and "/login" in headers["Location"]
    assert _get(_root(url) + NO_KERNEL)[0] == 403
    assert _get(_root(url) + NO_KERNEL, headers={"Authorization": "token " + "0" * 48})[0] == 403


def test_the_token_is_neither_on_a_command_line_nor_in_a_kernels_environment(server, wizard_page):
    proc, url, *_ = server
    token = _token(url)
    assert len(token) >= 32
    assert token not in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
    deadline = time.monotonic() + 60  # the page's kernel, and the one started ahead of the next page load
    while len(kernels := _kernels(proc.pid)) < 2:
        assert time.monotonic() < deadline, f"{len(kernels)} kernel(s) after a page load"
        time.sleep(0.3)
    for cmdline, environ in kernels:
        assert token not in cmdline and token not in environ


def _kernels(pid: int) -> list[tuple[str, str]]:
    """Command line and environment of each kernel the server runs."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
            if "ipykernel" in cmdline:
                found.append((cmdline, " ".join(f"{k}={v}" for k, v in child.environ().items())))
        except psutil.NoSuchProcess:  # a short-lived helper process
            continue
    return found


def test_a_voila_config_file_in_the_working_folder_is_not_run(server):
    work = server[3]
    assert (work / "voila.py").exists() and not (work / "stray-config-ran").exists()


def test_the_page_loads_nothing_from_another_host_and_no_run_the_cell_hint(wizard_page):
    body = wizard_page[2]
    external = re.findall(r"""(?:src|href)\s*=\s*["'](?:https?:)?//[^"']+""", body)
    assert external == []
    assert "cdn.jsdelivr.net" not in body and "cdnjs" not in body
    assert "Run the cell" not in body


def test_the_page_sets_the_xsrf_cookie_its_kernel_shutdown_request_sends_back(wizard_page):
    status, headers, _ = wizard_page
    assert status == 200
    assert any(cookie.startswith("_xsrf=") for cookie in headers.get_all("Set-Cookie", []))


# -- without a server -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host, names, any_address, allowed", [
    ("127.0.0.1:8866", set(), False, True),
    ("localhost:8866", {"localhost"}, False, True),
    ("LOCALHOST.", {"localhost"}, False, True),
    ("[::1]:8866", set(), False, True),
    ("127.0.0.2", set(), False, True),
    ("attacker.example", {"localhost"}, False, False),
    ("attacker.example:8866", {"localhost"}, False, False),
    ("localhost.attacker.example", {"localhost"}, False, False),
    ("", {"localhost"}, False, False),
    ("[::1", {"localhost"}, False, False),
    ("192.168.1.5:8866", {"localhost"}, False, False),
    ("192.168.1.5:8866", {"localhost"}, True, True),  # served on every interface: an address is fine
    ("attacker.example", {"localhost"}, True, False),  # ... a name still is not
    ("192.168.1.5", {"localhost", "192.168.1.5"}, False, True),
    ("wizard.example.org:443", {"localhost", "wizard.example.org"}, False, True),
])
def test_host_check(host, names, any_address, allowed):
    assert host_allowed(host, names, any_address) is allowed


def test_allow_host_takes_a_name_or_an_address_only():
    assert allowed_host(" Wizard.Example.ORG ") == "wizard.example.org"
    assert allowed_host("[::1]") == "::1" and allowed_host("10.0.0.7") == "10.0.0.7"
    for bad in ("", "*", "*.example.org", "http://wizard.example.org", "wizard.example.org:8866", "a b", "-x.org"):
        with pytest.raises(CliError, match="not a host name"):
            allowed_host(bad)


def test_the_server_command_line_carries_no_token_but_the_allowed_hosts():
    argv = serve_command("0.0.0.0", 8866, Path("wizard.ipynb"), ["proxy.example.org"])
    assert not any("token" in a.lower() for a in argv)
    assert "--Voila.ip=0.0.0.0" in argv and "--template=nbwizard" in argv
    assert "--WizardVoila.allowed_hosts=proxy.example.org" in argv
    assert any("cull_idle_timeout" in a for a in argv)
