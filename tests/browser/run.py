#!/usr/bin/env python3
"""Browser tests of the web listener in a real headless Chromium (WebDriver).

Starts `stxchat server --web-bind` on free loopback ports, drives Chromium
through chromedriver (Selenium; nothing is downloaded: the driver is
/usr/bin/chromedriver), and checks:

- the JavaScript frame codec in the browser (CRC-32 check value, the BYE
  vector, bad frames refused);
- two browser users chat; join and leave notices appear;
- a browser user and a native `stxchat client --plain` see each other;
- a private message opens its own conversation tab;
- the page reconnects after a server restart;
- the operator page shows a client going from waiting to connected to gone,
  and kicks a client after confirmation.

Screenshots go to docs/img/ (with --screenshots, as CI does not need them).

Usage: python3 tests/browser/run.py [--binary target/release/stxchat] [--screenshots]
Exit status 0 when every check passed.
"""

import argparse
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WAIT = 20  # seconds any single wait may take
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    deadline = time.time() + WAIT
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


class Server:
    """`stxchat server` on fixed ports (so a restart keeps them)."""

    def __init__(self, binary, logdir):
        self.binary = binary
        self.chat = free_port()
        self.admin = free_port()
        self.web = free_port()
        self.logdir = logdir
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.logdir, f"server-{self.starts}.log"), "w")
        self.proc = subprocess.Popen(
            [self.binary, "server", "--bind", f"127.0.0.1:{self.chat}",
             "--admin-bind", f"127.0.0.1:{self.admin}", "--web-bind", f"127.0.0.1:{self.web}",
             "--stats-interval", "0", "--name", "browser-test"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "info"})
        wait_port(self.web, self.proc)
        wait_port(self.chat, self.proc)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.web}"


def browser(profile_root, width=1280, height=820):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={width},{height}",
                 f"--user-data-dir={tempfile.mkdtemp(dir=profile_root)}"]:
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.set_script_timeout(WAIT)
    return d


def until(driver, what, cond):
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(lambda d: cond())
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}") from None


def log_text(d):
    """Text of the visible conversation."""
    return d.execute_script(
        "return [...document.querySelectorAll('ol.log:not([hidden]) li')].map(l => l.textContent).join('\\n')")


def tab_keys(d):
    return d.execute_script("return [...document.querySelectorAll('#tabs .tab')].map(t => t.dataset.key)")


def members(d):
    return d.execute_script("return [...document.querySelectorAll('#member-list .member')].map(m => m.textContent)")


def connect(d, server, nick):
    d.get(server.url + "/")
    until(d, "the connect form", lambda: d.find_element(By.ID, "f-nick").is_displayed())
    assert d.find_element(By.ID, "f-server").get_attribute("value") == "127.0.0.1"
    assert d.find_element(By.ID, "f-port").get_attribute("value") == str(server.web)
    nick_box = d.find_element(By.ID, "f-nick")
    nick_box.clear()
    nick_box.send_keys(nick)
    nick_box.send_keys(Keys.ENTER)  # keyboard: Enter submits the form
    until(d, f"{nick} to be connected", lambda: "room:lobby" in tab_keys(d)
          and d.find_element(By.ID, "status").get_attribute("class").strip() == "status ok")


def say(d, text):
    box = d.find_element(By.ID, "say")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def open_tab(d, key):
    d.find_element(By.CSS_SELECTOR, f'#tabs .tab[data-key="{key}"]').click()
    until(d, f"tab {key}", lambda: d.execute_script(
        f"return document.querySelector('#tabs .tab[data-key=\"{key}\"]').getAttribute('aria-selected')") == "true")


def see(d, what, text):
    until(d, what, lambda: text in log_text(d))


class Native:
    """`stxchat client --plain`, fed lines on stdin, its output collected."""

    def __init__(self, binary, server, nick, logdir):
        self.out = open(os.path.join(logdir, f"client-{nick}.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "client", "--plain", "--nick", nick, "--no-reconnect", f"127.0.0.1:{server.chat}"],
            stdin=subprocess.PIPE, stdout=self.out, stderr=subprocess.STDOUT, text=True)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def output(self):
        self.out.flush()
        with open(self.out.name) as f:
            return f.read()

    def wait_for(self, text):
        deadline = time.time() + WAIT
        while time.time() < deadline:
            if text in self.output():
                return
            time.sleep(0.05)
        raise AssertionError(f"the native client never printed {text!r}:\n{self.output()}")

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def frame(payload):
    head = struct.pack(">H", len(payload))
    return b"\x02" + head + payload + struct.pack(">I", zlib.crc32(head + payload)) + b"\x03"


def str8(s):
    b = s.encode()
    return bytes([len(b)]) + b


def check_codec(d, server):
    d.get(server.url + "/")
    result = d.execute_async_script("""
      const done = arguments[arguments.length - 1];
      import('/static/stx.js').then((m) => {
        const out = {};
        out.check = m.crc32(new TextEncoder().encode('123456789')).toString(16);
        out.bye = Array.from(m.chat.bye()).map((b) => b.toString(16).padStart(2, '0')).join(' ');
        const dec = new m.FrameDecoder(4096);
        const hello = m.chat.hello('émile', '');
        // one frame split in two, then two frames in one chunk
        const a = dec.push(hello.subarray(0, 5)).length;
        const b = dec.push(hello.subarray(5)).length;
        const both = new Uint8Array(hello.length * 2); both.set(hello); both.set(hello, hello.length);
        const c = dec.push(both).length;
        out.split = [a, b, c];
        const bad = (bytes, max) => { try { new m.FrameDecoder(max || 4096).push(bytes); return 'accepted'; } catch (e) { return e.kind; } };
        const crcBad = m.chat.bye(); crcBad[4] ^= 1;
        const etxBad = m.chat.bye(); etxBad[8] = 0;
        out.bad = [bad(crcBad), bad(etxBad), bad(Uint8Array.of(0x41)), bad(Uint8Array.of(2, 0, 0)), bad(m.chat.say('r', 'x'.repeat(600)), 512)];
        done(out);
      }, (e) => done({ error: String(e) }));
    """)
    assert result.get("check") == "cbf43926", result
    assert result["bye"] == "02 00 01 08 e8 81 60 61 03", result
    assert result["split"] == [0, 1, 2], result
    assert result["bad"] == ["bad_checksum", "missing_etx", "garbage", "empty", "too_large"], result


def operator_lifecycle(d, server, shots):
    """The operator page shows a raw client waiting, connected, gone."""
    d.get(server.url + "/admin")
    until(d, "the operator page to go live", lambda: "live" in d.find_element(By.ID, "status").text)
    s = socket.create_connection(("127.0.0.1", server.chat))
    until(d, "a waiting connection", lambda: d.execute_script(
        "return document.querySelectorAll('#waiting tbody tr[data-id]').length") >= 1)
    s.sendall(frame(b"\x01\x02" + str8("rawclient") + str8("")))
    until(d, "the client to move to connected", lambda: d.execute_script(
        "return [...document.querySelectorAll('#connected tbody tr')].some(r => r.dataset.nick === 'rawclient')")
        and d.execute_script("return document.querySelectorAll('#waiting tbody tr[data-id]').length") == 0)
    if shots:
        # Some traffic for the chart, and a client that stays waiting.
        waiting = socket.create_connection(("127.0.0.1", server.chat))
        ticker = socket.create_connection(("127.0.0.1", server.chat))
        ticker.sendall(frame(b"\x01\x02" + str8("ticker") + str8("")))
        start = time.time()
        i = 0
        while time.time() - start < 6:
            t = time.time() - start
            burst = int(4 + 6 * (1 + math.sin(t * 1.6)) + (8 if 3 < t < 4.2 else 0))
            for _ in range(burst):
                i += 1
                text = f"tick {i}".encode()
                ticker.sendall(frame(b"\x04" + str8("lobby") + struct.pack(">H", len(text)) + text))
            time.sleep(0.25)
        time.sleep(1.2)
        d.save_screenshot(os.path.join(ROOT, "docs", "img", "web-operator.png"))
        ticker.close()
        waiting.close()
    s.close()
    until(d, "the client to be gone", lambda: not d.execute_script(
        "return [...document.querySelectorAll('#connected tbody tr')].some(r => r.dataset.nick === 'rawclient')"))
    until(d, "the rooms list", lambda: "#lobby" in d.find_element(By.ID, "rooms").text)


def kick_from_operator_page(d, native):
    row = f'#connected tbody tr[data-nick="{native}"] button.kick'
    until(d, f"{native} in the connected list", lambda: len(d.find_elements(By.CSS_SELECTOR, row)) == 1)
    d.find_element(By.CSS_SELECTOR, row).click()
    until(d, "the confirmation dialog", lambda: d.find_element(By.ID, "kick-dialog").is_displayed())
    reason = d.find_element(By.ID, "kick-reason")
    reason.clear()
    reason.send_keys("browser test")
    d.find_element(By.ID, "kick-confirm").click()
    until(d, "the kick to be reported", lambda: "Kicked" in d.find_element(By.ID, "toast").text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "stxchat"))
    ap.add_argument("--screenshots", action="store_true")
    args = ap.parse_args()
    for path in (CHROMIUM, CHROMEDRIVER, args.binary):
        if not os.path.exists(path):
            print(f"browser tests: {path} is missing", file=sys.stderr)
            return 1
    work = tempfile.mkdtemp(prefix="stxchat-browser-")
    server = Server(args.binary, work)
    drivers = []
    natives = []
    ok = False
    try:
        server.start()
        alice = browser(work)
        drivers.append(alice)
        print("- the frame codec in the browser")
        check_codec(alice, server)

        print("- two browser users chat; join notices")
        connect(alice, server, "alice")
        if args.screenshots:
            login = browser(work, 1100, 720)
            drivers.append(login)
            login.get(server.url + "/")
            login.find_element(By.ID, "f-nick").send_keys("dana")
            login.save_screenshot(os.path.join(ROOT, "docs", "img", "web-connect.png"))
        bob = browser(work)
        drivers.append(bob)
        connect(bob, server, "bob")
        see(alice, "bob's join notice", "bob joined")
        until(alice, "bob in alice's member list", lambda: {"alice", "bob"} <= set(members(alice)))
        say(alice, "hi bob")
        see(bob, "alice's message at bob", "hi bob")
        say(bob, "hello alice, nice to see you here")
        see(alice, "bob's answer", "nice to see you here")

        print("- a browser user and a native client")
        carol = Native(args.binary, server, "carol", work)
        natives.append(carol)
        see(alice, "carol's join notice", "carol joined")
        carol.send("hello from the terminal")
        see(alice, "carol's message", "hello from the terminal")
        see(bob, "carol's message at bob", "hello from the terminal")
        say(alice, "welcome carol, this is the browser")
        carol.wait_for("this is the browser")

        print("- a private message opens its conversation")
        say(bob, "/msg alice a secret for you")
        until(alice, "the conversation tab", lambda: "pm:bob" in tab_keys(alice))
        open_tab(alice, "pm:bob")
        see(alice, "the private message", "a secret for you")
        say(alice, "got it")  # in the conversation tab: a WHISPER to bob
        until(bob, "bob's conversation tab", lambda: "pm:alice" in tab_keys(bob))
        open_tab(bob, "pm:alice")
        see(bob, "alice's answer", "got it")

        print("- rooms as tabs: join, history, leave")
        open_tab(alice, "room:lobby")
        alice.find_element(By.ID, "join-room").send_keys("dev" + Keys.ENTER)
        until(alice, "the dev tab", lambda: "room:dev" in tab_keys(alice))
        say(alice, "first in dev")
        bob.find_element(By.ID, "join-room").send_keys("dev" + Keys.ENTER)
        until(bob, "bob's dev tab", lambda: "room:dev" in tab_keys(bob))
        see(bob, "dev's history", "first in dev")
        assert bob.execute_script(
            "return [...document.querySelectorAll('ol.log:not([hidden]) li.replayed')].some(l => l.textContent.includes('first in dev'))"), \
            "the replayed message is marked"
        see(alice, "bob joining dev", "bob joined")
        say(bob, "/part")
        until(bob, "bob's dev tab to close", lambda: "room:dev" not in tab_keys(bob))
        see(alice, "bob's leave notice", "bob left")
        open_tab(alice, "room:lobby")
        carol.quit()
        see(alice, "carol's quit notice", "carol quit")
        if args.screenshots:
            open_tab(bob, "room:lobby")
            say(alice, "the page decodes every frame itself: STX, LEN, payload, CRC-32, ETX")
            say(bob, "and checks each one it receives")
            see(alice, "the last line", "checks each one")
            alice.save_screenshot(os.path.join(ROOT, "docs", "img", "web-chat.png"))
            phone = browser(work, 390, 844)
            drivers.append(phone)
            connect(phone, server, "erin")
            say(phone, "hi from a phone")
            see(phone, "erin's own message", "hi from a phone")
            phone.save_screenshot(os.path.join(ROOT, "docs", "img", "web-phone.png"))

        print("- the operator page: waiting, connected, gone; kick")
        op = browser(work, 1400, 900)
        drivers.append(op)
        operator_lifecycle(op, server, args.screenshots)
        dave = Native(args.binary, server, "dave", work)
        natives.append(dave)
        see(alice, "dave's join", "dave joined")
        kick_from_operator_page(op, "dave")
        dave.wait_for("removed by an operator")
        see(alice, "dave kicked", "dave kicked by an operator")

        print("- reconnect after a server restart")
        server.stop()
        until(alice, "the reconnect banner", lambda: "Reconnecting" in alice.find_element(By.ID, "banner").text)
        if args.screenshots:
            alice.save_screenshot(os.path.join(ROOT, "docs", "img", "web-reconnect.png"))
        server.start()
        for d, nick in ((alice, "alice"), (bob, "bob")):
            until(d, f"{nick} to reconnect", lambda d=d: d.find_element(By.ID, "status").get_attribute("class").strip() == "status ok"
                  and not d.find_element(By.ID, "banner").is_displayed())
        open_tab(alice, "room:lobby")
        open_tab(bob, "room:lobby")
        until(bob, "alice back in bob's lobby", lambda: "alice" in members(bob))
        say(alice, "back after the restart")
        see(bob, "the message after the restart", "back after the restart")
        ok = True
        print("browser tests passed")
    finally:
        if not ok:
            for i, d in enumerate(drivers):
                try:
                    d.save_screenshot(os.path.join(work, f"failure-{i}.png"))
                    print(f"--- browser {i} log:\n{log_text(d)}", file=sys.stderr)
                except Exception:  # noqa: BLE001 - diagnostics only
                    pass
            print(f"browser tests failed; logs and screenshots in {work}", file=sys.stderr)
        for d in drivers:
            try:
                d.quit()
            except Exception:  # noqa: BLE001
                pass
        for n in natives:
            n.quit()
        server.stop()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
