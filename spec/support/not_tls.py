# A server that does not speak TLS, where a camera's HTTPS port should be:
# it answers every connection with a plain HTTP 400 and closes it, so a
# client's TLS handshake is refused ("wrong version number"). Used by the
# hostile-peer specs to check that such a refusal is named and not retried.
#
#   python3 not_tls.py PORT COUNT_FILE
#
# Listens on 127.0.0.1:PORT (0: any free port), prints "ready <port> <pid>"
# once listening, and writes the number of connections accepted so far to
# COUNT_FILE after each one. Runs until killed.
import os
import socket
import sys

port, count_file = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
print("ready %d %d" % (s.getsockname()[1], os.getpid()), flush=True)
n = 0
while True:
    c, _ = s.accept()
    n += 1
    with open(count_file, "w") as f:
        f.write(str(n))
    c.settimeout(2)
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
    c.close()
