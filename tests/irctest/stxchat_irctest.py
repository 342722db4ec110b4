"""irctest controller for stxchat's IRC gateway (docs/IRC.md).

Starts `stxchat server` with the IRC listener on the port irctest chose,
the chat port and the admin listener elsewhere. The binary is taken from
$STXCHAT_BIN (tests/irctest/run.sh sets it).
"""

import os
from typing import Optional, Set, Type

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController


class StxchatController(BaseServerController, DirectoryBasedController):
    software_name = "stxchat"
    supported_sasl_mechanisms: Set[str] = set()
    supports_sts = False

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str],
        websocket_port: Optional[int],
    ) -> None:
        if ssl:
            raise NotImplementedByController("TLS")
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        if run_services:
            raise NotImplementedByController("Services")
        assert self.proc is None
        self.port = port
        self.hostname = hostname
        self.create_config()
        (chat_hostname, chat_port) = self.get_hostname_and_port()
        binary = os.environ.get("STXCHAT_BIN", "stxchat")
        args = [
            binary,
            "server",
            "--bind",
            f"{chat_hostname}:{chat_port}",
            "--irc-bind",
            f"{hostname}:{port}",
            "--name",
            "My.Little.Server",
            "--admin-bind",
            "off",
            "--stats-interval",
            "0",
            "--irc-oper-password",
            "operpassword",
            "--max-connections",
            "1000",
        ]
        if password:
            args += ["--password", password]
        self.proc = self.execute(args)


def get_irctest_controller_class() -> Type[StxchatController]:
    return StxchatController
