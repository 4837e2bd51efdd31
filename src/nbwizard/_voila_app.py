"""The server behind ``nbwizard serve``: Voilà with a token, a Host check, and a page that cleans up after itself.

``nbwizard serve`` execs ``python -m nbwizard._voila_app NOTEBOOK [voila options]``. Compared with plain Voilà 0.5:

* **a token, always** — taken from ``NBWIZARD_TOKEN`` (then removed from the environment, so kernels never see it)
  or generated; never on a command line, where ``ps`` shows it to every user of the machine;
* **a Host check on every route** — Voilà forces ``allow_remote_access`` on, so a page on ``attacker.example``
  that re-points its name to 127.0.0.1 (DNS rebinding) would be served; a rule ahead of all of Voilà's routes
  answers 403 to a Host that is not this machine's loopback name or address (or a name the user allowed);
* **the URL that works** — printed once the server listens, with the port it really got (Voilà moves on to
  another port when the asked one is taken) and the token;
* **kernels stop when their page closes** — the page's unload beacon posts the ``_xsrf`` cookie back, but Voilà
  never sets that cookie on the notebook page, so every shutdown request failed XSRF validation and the kernel
  lived until culling; the page response now sets it (XSRF protection itself stays on);
* **no token in the request log** — Jupyter Server's request logger, which scrubs it from logged URLs;
* **no token in a kernel's environment** — Voilà passes the page request's URL and query to the kernels;
* **config only from Jupyter's config dirs** — Voilà also loads ``voila.py`` from the working folder, which would
  run a stray file from wherever the command was started (a downloaded dataset folder, say);
* **the nbwizard template** (``_jupyter/voila/templates/nbwizard``, chosen by ``--template=nbwizard``): Voilà's
  lab template without what it loads from a CDN (the page makes no request off this machine) and without the
  cells meant only for JupyterLab.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import tornado.web
from jupyter_core.paths import jupyter_config_path
from jupyter_server.log import log_request
from tornado.httputil import HTTPServerRequest
from tornado.ioloop import IOLoop
from tornado.log import access_log
from tornado.routing import Matcher, Rule
from traitlets import List, Unicode, default
from voila.app import Voila
from voila.tornado.handler import TornadoVoilaHandler

TOKEN_ENV = "NBWIZARD_TOKEN"
# the line the server prints once it listens; scripts (the tests, benchmarks/bench_voila.py) read the URL from it
ANNOUNCE = "nbwizard: the wizard is at "
_ANNOUNCED_URL = re.compile("^" + re.escape(ANNOUNCE) + r"(http://\S+)", re.MULTILINE)
# a Jupyter data directory holding voila/templates/nbwizard; put first on JUPYTER_PATH so Voilà finds the template
DATA_ROOT = Path(__file__).resolve().parent / "_jupyter"


def _host_name(host: str) -> str:
    """The name part of a Host header value, lower-cased, without port, IPv6 brackets or a trailing dot."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name.rstrip(".")


def host_allowed(host: str, names: frozenset[str] | set[str], any_address: bool = False) -> bool:
    """Whether a request's Host header names this server rather than someone else's domain.

    A DNS-rebinding page reaches the server under the attacker's own name, so names are checked against a list
    (``localhost`` and the user's ``--allow-host`` names). A Host that is an IP address cannot come from a
    rebinding (the page's origin would be that address, not the attacker's site): loopback addresses are always
    fine, so is one the user allowed, and any address is when the server was bound to a non-loopback one
    (``any_address``).
    """
    name = _host_name(host)
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return bool(name) and name in names
    return address.is_loopback or any_address or str(address) in names


class _ForeignHost(Matcher):
    """Matches the requests whose Host is not allowed (so the rule's handler refuses them)."""

    def __init__(self, names: frozenset[str], any_address: bool) -> None:
        self.names = names
        self.any_address = any_address

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        return None if host_allowed(request.host, self.names, self.any_address) else {}


class _RefuseForeignHost(tornado.web.RequestHandler):
    """403 for every method and route, websockets included."""

    def prepare(self) -> None:
        access_log.warning("refused a request for host %r (not localhost or an --allow-host name)", self.request.host)
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("nbwizard: this server does not answer to that host name "
                    "(`nbwizard serve --allow-host NAME` adds one)\n")


class _PageHandler(TornadoVoilaHandler):
    """The notebook page: sets the ``_xsrf`` cookie that the page's kernel-shutdown beacon sends back, and keeps
    the token out of what Voilà hands the kernels (their environment gets the request's URL and query)."""

    async def get(self, path: str | None = None) -> None:
        self.xsrf_token  # noqa: B018  (reading it sets the cookie; must happen before the page streams out)
        self._drop_token_from_request()  # authentication is done (``prepare``); the token has no further use
        await super().get(path)

    def _drop_token_from_request(self) -> None:
        request = self.request
        if "token" not in request.query_arguments:
            return
        request.query = urlencode([(k, v) for k, v in parse_qsl(request.query, keep_blank_values=True) if k != "token"])
        request.uri = request.path + (f"?{request.query}" if request.query else "")
        request.query_arguments.pop("token")
        request.arguments.pop("token", None)


class WizardVoila(Voila):
    """Voilà as ``nbwizard serve`` runs it (see the module docstring)."""

    allowed_hosts = List(Unicode(), help="Host names besides localhost the page may be requested under "
                                         "(e.g. a reverse proxy's name)").tag(config=True)

    @default("config_file_paths")
    def _config_file_paths_default(self) -> list[str]:
        return jupyter_config_path()

    def initialize(self, argv: Any = None) -> None:
        super().initialize(argv)
        self.token = os.environ.pop(TOKEN_ENV, "") or secrets.token_hex(24)

    def init_settings(self) -> dict[str, Any]:
        # Jupyter Server's request log: scrubs the token from logged URLs (tornado's default prints it)
        return {**super().init_settings(), "log_function": log_request}

    def init_handlers(self) -> list:
        return [(route[0], _PageHandler, *route[2:]) if route[1] is TornadoVoilaHandler else route
                for route in super().init_handlers()]

    def _local_only(self) -> bool:
        try:
            return self.ip == "localhost" or ipaddress.ip_address(self.ip).is_loopback
        except ValueError:
            return False

    def listen(self) -> None:
        names = frozenset({"localhost", *(_host_name(h) for h in self.allowed_hosts)})
        router = self.app.default_router
        router.rules.insert(0, Rule(_ForeignHost(names, any_address=not self._local_only()), _RefuseForeignHost))
        IOLoop.current().add_callback(self._announce)  # runs once the loop starts, after Voilà bound its port
        super().listen()

    def _all_interfaces(self) -> bool:
        return self.ip in ("", "0.0.0.0", "::")

    def page_url(self) -> str:
        """The URL to open: the port really bound, and the token."""
        host = "127.0.0.1" if self._all_interfaces() else self.ip
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{self.base_url}?token={self.token}"

    @property
    def display_url(self) -> str:  # Voilà's own "running at" line: the real URL, not "?token=..."
        return self.page_url()

    def _announce(self) -> None:
        elsewhere = (" (from another machine: put this machine's address in place of 127.0.0.1)"
                     if self._all_interfaces() else "")
        print(f"{ANNOUNCE}{self.page_url()}{elsewhere}  (Ctrl+C stops it)", flush=True)


def announced_url(output: str) -> str | None:
    """The URL in the server's output (see ``ANNOUNCE``), once it is there."""
    found = _ANNOUNCED_URL.search(output)
    return found.group(1) if found else None


def main(argv: list[str] | None = None) -> None:
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(DATA_ROOT), os.environ.get("JUPYTER_PATH")) if p)
    WizardVoila.launch_instance(argv=sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
