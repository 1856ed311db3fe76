#!/usr/bin/env python3
"""Test-only ivshmem doorbell server for guest/image/smoke-doorbell.sh.

Serves exactly one guest (peer id 1) and plays a host peer (id 0) itself,
speaking the protocol of QEMU's docs/specs/ivshmem-spec.rst: version 0,
the client's id, -1 with the shm fd, then for each peer (0, then the
guest itself) its id once per vector with an eventfd.  Then: wait for the
guest to ring peer 0 vector 0, ring the guest's vector 0, then vector 1.
Not the project's server (the host orchestrator has that).

Usage: doorbell-test-server.py SOCKET SHM_PATH VECTORS
"""
import os
import select
import socket
import struct
import sys
import time

sock_path, shm_path, nvec = sys.argv[1], sys.argv[2], int(sys.argv[3])
GUEST, HOST = 1, 0


def say(text):
    print("server: " + text, flush=True)


try:
    os.unlink(sock_path)
except FileNotFoundError:
    pass
shm = os.open(shm_path, os.O_RDWR | os.O_CREAT, 0o600)
os.ftruncate(shm, 64 << 20)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
srv.listen(1)
say("listening on " + sock_path)
srv.settimeout(60)
conn, _ = srv.accept()


def send(value, fd=None):
    data = struct.pack("<q", value)
    if fd is None:
        conn.sendall(data)
    else:
        socket.send_fds(conn, [data], [fd])


host_fds = [os.eventfd(0, os.EFD_NONBLOCK) for _ in range(nvec)]
guest_fds = [os.eventfd(0, os.EFD_NONBLOCK) for _ in range(nvec)]
send(0)              # protocol version
send(GUEST)          # the client's id
send(-1, shm)        # shared memory
for fd in host_fds:  # existing peer 0
    send(HOST, fd)
for fd in guest_fds:  # the client's own vectors
    send(GUEST, fd)
say("guest %d connected, %d vectors" % (GUEST, nvec))

start = time.monotonic()
ready, _, _ = select.select(host_fds, [], [], 120)
if not ready:
    say("FAIL no doorbell from the guest")
    sys.exit(1)
for fd in ready:
    say("doorbell from guest: peer %d vector %d, count %d, %.1fs after connect"
        % (HOST, host_fds.index(fd), os.eventfd_read(fd), time.monotonic() - start))
for vector in range(nvec):
    time.sleep(0.5)
    os.eventfd_write(guest_fds[vector], 1)
    say("rang guest vector %d" % vector)
conn.settimeout(180)
try:
    conn.recv(1)     # until QEMU goes away
except OSError:
    pass
say("guest disconnected")
