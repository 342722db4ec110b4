# RSS per idle registered connection, plain vs TLS: N clients register
# (HELLO v1) and stay idle; the server's VmRSS is read before and after.
import socket, ssl, struct, sys, time, zlib, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
pid, port, n, mode, ca = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
def frame(p):
    ln = struct.pack(">H", len(p))
    return b"\x02" + ln + p + struct.pack(">I", zlib.crc32(ln + p)) + b"\x03"
ctx = ssl.create_default_context(cafile=ca)
time.sleep(0.5)
before = rss()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if mode == "tls":
        s = ctx.wrap_socket(s, server_hostname="localhost")
    nick = f"u{i}".encode()
    s.sendall(frame(b"\x01\x01" + bytes([len(nick)]) + nick + b"\x00"))
    socks.append(s)
for s in socks:  # wait for every WELCOME
    s.recv(1)
time.sleep(2)
after = rss()
print(f"{mode}: {n} idle registered connections: RSS {before} -> {after} KiB, {(after-before)*1024/n:.0f} bytes each")
