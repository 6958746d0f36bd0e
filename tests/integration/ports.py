"""Loopback ports for test servers, without collisions between tests that
run at the same time (ctest -j, several checkouts on one machine).

Asking the kernel for a free port (bind to port 0) and handing the number
to a server releases it before the server binds it: meanwhile the kernel
may give it to any other bind(0) or outgoing connection, since it comes
from the ephemeral range. Here a port is chosen at random *below* the
ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), which the kernel
never hands out by itself, and a server started on it is checked to hold
it (its socket's inode is among the process's descriptors): one that lost
the port to another test is stopped and started again on another port.

Also a command for shell scripts:
    ports.py free [N]         prints N (default 1) distinct free ports
    ports.py state PID PORT   prints "ours" if PID (or a child) listens on
                              TCP PORT, "taken" if only another process
                              does, "none" if nobody does
"""
import os
import random
import socket
import sys

_LOW = 10000  # below: well-known and registered ports people run things on


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port):
    """True if TCP and UDP port on 127.0.0.1 can be bound now."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port(avoid=()):
    """A loopback port free for TCP and UDP now, outside the kernel's
    ephemeral range. Start the server with serve() (pxtest), or check it
    with owns_port(): another test may choose the same one."""
    high = _ephemeral_low() - 1
    rng = random.SystemRandom()
    for _ in range(1000):
        port = rng.randint(_LOW, high)
        if port not in avoid and _bindable(port):
            return port
    raise AssertionError("no free port in %d-%d" % (_LOW, high))


# /proc/net/* socket states that mean "bound as a server"
_LISTEN = {"tcp": "0A", "tcp6": "0A", "udp": "07", "udp6": "07"}


def _socket_inodes(port, protos):
    """Inodes of sockets bound to local port `port` (TCP: listening)."""
    inodes = set()
    for proto in protos:
        for table in (proto, proto + "6"):
            try:
                with open("/proc/net/" + table) as f:
                    lines = f.readlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if int(local.rsplit(":", 1)[1], 16) == port and state == _LISTEN[table]:
                    inodes.add(inode)
    return inodes


def _family(pid):
    """pid and its descendants (nsd serves from a child process)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _fd_inodes(pids):
    inodes = set()
    for pid in pids:
        fddir = "/proc/%d/fd" % pid
        try:
            names = os.listdir(fddir)
        except OSError:
            continue
        for n in names:
            try:
                link = os.readlink(os.path.join(fddir, n))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    return inodes


def port_state(pid, port, protos=("tcp",)):
    """"ours" if process pid (or a child) serves on port, "taken" if only
    another process does, None if nobody does (yet)."""
    held = _socket_inodes(port, protos)
    if not held:
        return None
    return "ours" if held & _fd_inodes(_family(pid)) else "taken"


def owns_port(pid, port, protos=("tcp",)):
    return port_state(pid, port, protos) == "ours"


def main(argv):
    if len(argv) >= 2 and argv[1] == "free":
        n = int(argv[2]) if len(argv) > 2 else 1
        got = []
        while len(got) < n:
            got.append(free_port(avoid=got))
        print(" ".join(map(str, got)))
        return 0
    if len(argv) == 4 and argv[1] == "state":
        print(port_state(int(argv[2]), int(argv[3])) or "none")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
