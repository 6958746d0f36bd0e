"""A manual trial of the systemd units' sandbox without systemd (this
container has none; docs/OPERATIONS.md, "systemd", says what it shows and
what it cannot). Run as root from a built tree:

    /usr/bin/python3 tests/system/sandbox_trial.py BUILD_DIR

It runs the real pdnsx-producer and pdnsx-consumer as user pdnsx with the
packaged example configs and the units' paths, each in a mount namespace
made like the unit's: / read-only (ProtectSystem=strict) but for the
unit's writable directories, bound from a scratch directory (/run/pdnsx,
/var/spool/pdnsx, /var/lib/pdnsx), private /tmp, empty /home and /root,
a /dev of the pseudo devices only, /proc with subset=pid and
hidepid=invisible, no new privileges and no capabilities, and stderr a
journal-like stream (JOURNAL_STREAM). A real Unbound running as a user of
group pdnsx (and only that) sends dnstap to the socket; the consumer merges
what the producer published; both take SIGHUP and SIGTERM. Under strace,
it then checks every system call made against the units'
SystemCallFilter, every socket's family against RestrictAddressFamilies
and every mapping against MemoryDenyWriteExecute.

Users it creates (pdnsx if missing, pdnsx-trial-res, pdnsx-trial-out) are
removed at the end."""
import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
os.environ.setdefault("PDNSX_BIN", os.path.join(os.path.abspath(sys.argv[1]), "bin"))
import pxtest  # noqa: E402
from resolvers import Nsd, Unbound  # noqa: E402

BIN = pxtest.BIN
UNITS = os.path.join(os.path.abspath(sys.argv[1]), "systemd")
ORG = "trial"
FAILED = []


def example(prog):
    """The packaged example config of prog."""
    return os.path.join(SRC, "etc", prog + ".conf")


def check(ok, what):
    print("%s %s" % ("ok  " if ok else "FAIL", what), flush=True)
    if not ok:
        FAILED.append(what)


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, **kw)


def make_users():
    made = []
    if not exists_user("pdnsx"):
        sh("adduser", "--system", "--group", "--no-create-home", "--home", "/var/lib/pdnsx",
           "pdnsx", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        made.append("pdnsx")
    for user, groups in (("pdnsx-trial-res", ["pdnsx"]), ("pdnsx-trial-out", [])):
        if not exists_user(user):
            sh("adduser", "--system", "--group", "--no-create-home", user,
               stdout=subprocess.DEVNULL)
            made.append(user)
        for g in groups:
            sh("adduser", user, g, stdout=subprocess.DEVNULL)
    return made


def exists_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def unit_families(*paths):
    """RestrictAddressFamilies= of a unit and its drop-ins, merged as systemd does."""
    fams = set()
    for path in paths:
        for m in re.finditer(r"^RestrictAddressFamilies=(.*)$", open(path).read(), re.M):
            fams |= set(m.group(1).split())
    return fams


def owned_dir(path, user, mode):
    os.makedirs(path)
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, mode)
    return path


# The namespace, made by a shell as root before it drops to pdnsx.
SETUP = r"""
set -eu
mount -o remount,bind,ro /
for m in $(awk '$2 != "/" {print $2}' /proc/self/mounts | sort -r); do
  case $m in /proc*|/sys*|/dev*) ;; *) mount -o remount,bind,ro "$m" 2>/dev/null || true ;; esac
done
mount -t tmpfs -o mode=1777 tmpfs /tmp
# A bind mount keeps its source's read-only flag: ReadWritePaths= lifts it.
rw_bind() { mount --bind "$1" "$2" && mount -o remount,bind,rw "$2"; }
mkdir /tmp/trace && rw_bind "$TRACE" /tmp/trace
for d in /home /root; do mount -t tmpfs -o mode=0,ro tmpfs $d; done
# PrivateDevices=: a /dev of the pseudo devices (and /dev/shm) only.
mkdir /tmp/.hostdev && mount --rbind /dev /tmp/.hostdev
mount -t tmpfs -o mode=0755 tmpfs /dev
for d in null zero full random urandom; do
  touch /dev/$d && mount --bind /tmp/.hostdev/$d /dev/$d
done
mkdir /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
umount -l /tmp/.hostdev && rmdir /tmp/.hostdev
mount -t proc -o hidepid=invisible,subset=pid proc /proc 2>/dev/null ||
  echo "trial: /proc subset=pid not possible here" >&2
for bind in $BINDS; do
  dst=${bind%%=*} src=${bind#*=}
  parent=$(dirname "$dst")
  grep -q " $parent tmpfs " /proc/self/mounts || mount -t tmpfs -o mode=0755 tmpfs "$parent"
  mkdir -p "$dst" && rw_bind "$src" "$dst"
done
exec setpriv --reuid=pdnsx --regid=pdnsx --init-groups --no-new-privs \
  --bounding-set=-all$CAPS --inh-caps=-all$CAPS --ambient-caps=-all$CAPS \
  strace -f -qq -o "/tmp/trace/$NAME.strace" -e trace=all -e signal=none "$@"
"""


class Sandboxed:
    def __init__(self, name, trace, binds, args, umask=0o027, caps=""):
        self.name = name
        self.log_path = os.path.join(trace, name + ".log")
        self.log = open(self.log_path, "w")
        st = os.fstat(self.log.fileno())
        env = dict(os.environ, TRACE=trace, NAME=name, CAPS=caps,
                   BINDS=" ".join("%s=%s" % b for b in binds.items()),
                   JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", SETUP, "sh"] + args,
            stdout=self.log, stderr=self.log, env=env, preexec_fn=lambda: os.umask(umask))

    def daemon_pid(self):
        """The program strace runs (strace's child)."""
        kids = open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)).read().split()
        return int(kids[0]) if kids else None

    def signal(self, sig):
        os.kill(self.daemon_pid(), sig)

    def logtext(self):
        return open(self.log_path).read()

    def reload_then_stop(self):
        """systemctl reload (SIGHUP: both daemons log a "SIGHUP: ..." line
        and go on), then stop; returns the exit status."""
        self.signal(signal.SIGHUP)
        pxtest.wait_for(lambda: "SIGHUP" in self.logtext() or self.proc.poll() is not None,
                        20, "%s to note SIGHUP" % self.name)
        check(self.proc.poll() is None, "%s alive after SIGHUP (ExecReload)" % self.name)
        return self.stop()

    def stop(self):
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=120)
        self.log.close()
        return rc


def as_user(user, code):
    return subprocess.run(["setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups",
                           "/usr/bin/python3", "-c", code], capture_output=True, text=True)


CONNECT = """import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1] if len(sys.argv) > 1 else %r)
    print("connected")
except OSError as e:
    print(e.strerror)
"""


def syscall_groups():
    """@group -> set of system calls, expanded, from systemd-analyze."""
    out = sh("systemd-analyze", "syscall-filter", capture_output=True, text=True).stdout
    groups, cur = {}, None
    # The listing puts each group's name flush left and members indented.
    for raw in out.splitlines():
        body = raw.split("#")[0].rstrip()
        if not body.strip():
            continue
        if not raw.startswith(" "):
            cur = body.strip()
            groups[cur] = []
        else:
            groups[cur].append(body.strip())

    def expand(name, seen=()):
        res = set()
        for m in groups.get(name, []):
            res |= expand(m, seen + (name,)) if m.startswith("@") and m not in seen else {m}
        return res
    return expand


def strace_findings(path):
    calls, fams, wx = set(), set(), []
    for line in open(path):
        m = re.match(r"^\d+\s+([a-z_0-9]+)\(", line)
        if not m:
            continue
        calls.add(m.group(1))
        if m.group(1) in ("socket", "socketpair"):
            fams.add(re.match(r"^\d+\s+socket(?:pair)?\((AF_[A-Z0-9]+|\d+)", line).group(1))
        if m.group(1) in ("mmap", "mprotect", "pkey_mprotect") and "PROT_WRITE" in line \
                and "PROT_EXEC" in line:
            wx.append(line.strip())
    return calls, fams, wx


def pcap_live(trace, run, spool, broker, uport, published):
    """A second producer on the packaged config with a pcap-live input on
    lo: refused without CAP_NET_RAW (the unit alone), capturing with it
    (the unit and pdnsx-producer-pcap.conf)."""
    def start(name, caps):
        return Sandboxed(name, trace, {"/run/pdnsx": run, "/var/spool/pdnsx": spool}, [
            os.path.join(BIN, "pdnsx-producer"), "-c", example("pdnsx-producer"),
            "-s", 'org="%s"' % ORG, "-s", 'kafka.brokers="%s"' % broker.bootstrap,
            "-s", 'inputs=({type="pcap-live"; interface="lo"; filter="udp port %d";})' % uport,
            "-s", 'metrics.listen="127.0.0.1:%d"' % pxtest.free_port(),
            "-s", 'spool.path="/var/spool/pdnsx/pcap.spool"', "-s", "window.seconds=1"],
            caps=caps)
    denied = start("pcap-denied", "")
    rc = denied.proc.wait(timeout=60)
    check(rc != 0, "pcap-live without CAP_NET_RAW is refused (exit %d): %s"
          % (rc, denied.logtext().strip().splitlines()[-1:]))
    denied.log.close()
    live = start("pcap", ",+net_raw")
    pxtest.wait_for(lambda: "running" in live.logtext() or live.proc.poll() is not None, 30,
                    "the capturing producer to run")

    def captured():
        sh("dig", "+short", "-p", str(uport), "@127.0.0.1", "alias.example.com", "A",
           stdout=subprocess.DEVNULL)
        return "alias.example.com" in {r["rrname"] for r in published()}
    pxtest.wait_for(lambda: captured() or live.proc.poll() is not None, 60,
                    "the live capture to be published", interval=1)
    check(captured(), "pcap-live with CAP_NET_RAW (the drop-in) captures: %s"
          % live.logtext()[-300:])
    check(live.stop() == 0, "capturing producer exits 0 on SIGTERM")


def main():
    if os.geteuid() != 0:
        sys.exit("run as root")
    trial()
    print("== %d failed" % len(FAILED))
    sys.exit(1 if FAILED else 0)


def trial():
    made = make_users()
    # Not under /tmp, which the sandbox replaces (PrivateTmp).
    work = tempfile.mkdtemp(prefix="pdnsx-sandbox-", dir="/var/tmp")
    os.chmod(work, 0o755)
    procs, broker, nsd, unbound = [], None, None, None
    try:
        families = {"producer": unit_families(os.path.join(UNITS, "pdnsx-producer.service")),
                    "consumer": unit_families(os.path.join(UNITS, "pdnsx-consumer.service")),
                    "pcap": unit_families(os.path.join(UNITS, "pdnsx-producer.service"),
                                          os.path.join(SRC, "etc", "systemd",
                                                       "pdnsx-producer-pcap.conf"))}
        trace = owned_dir(os.path.join(work, "trace"), "pdnsx", 0o700)
        run = owned_dir(os.path.join(work, "run"), "pdnsx", 0o750)   # RuntimeDirectory
        spool = owned_dir(os.path.join(work, "spool"), "pdnsx", 0o700)
        lib = owned_dir(os.path.join(work, "lib"), "pdnsx", 0o700)   # StateDirectory
        probe = Sandboxed("probe", trace, {"/run/pdnsx": run, "/var/spool/pdnsx": spool}, [
            "sh", "-c", "for f in /etc/pdnsx-probe /usr/pdnsx-probe /var/tmp/pdnsx-probe "
            "/var/spool/pdnsx/probe /run/pdnsx/probe; do touch $f 2>/dev/null && echo $f; "
            "done; rm -f /var/spool/pdnsx/probe /run/pdnsx/probe"])
        probe.proc.wait(timeout=60)
        probe.log.close()
        writable = [ln for ln in probe.logtext().splitlines() if ln.startswith("/")]
        check(writable == ["/var/spool/pdnsx/probe", "/run/pdnsx/probe"],
              "writable: only the unit's directories %s" % writable)
        broker = pxtest.Broker(topics=["pdnsx.obs.%s:4" % ORG])
        pport, cport = pxtest.free_port(), None
        cport = pxtest.free_port(avoid=(pport,))
        producer = Sandboxed("producer", trace, {"/run/pdnsx": run, "/var/spool/pdnsx": spool}, [
            os.path.join(BIN, "pdnsx-producer"), "-c", example("pdnsx-producer"),
            "-s", 'org="%s"' % ORG, "-s", 'kafka.brokers="%s"' % broker.bootstrap,
            "-s", 'metrics.listen="127.0.0.1:%d"' % pport, "-s", "window.seconds=1",
            "-s", 'log.level="debug"'])
        procs.append(producer)
        sock = os.path.join(run, "dnstap.sock")
        pxtest.wait_for(lambda: os.path.exists(sock) or producer.proc.poll() is not None, 30,
                        "the dnstap socket")
        check(os.path.exists(sock), "producer made /run/pdnsx/dnstap.sock: " +
              producer.logtext()[-400:])
        if FAILED:
            return
        st = os.stat(sock)
        check((st.st_mode & 0o777) == 0o660 and grp.getgrgid(st.st_gid).gr_name == "pdnsx",
              "socket mode %o group %s" % (st.st_mode & 0o777, grp.getgrgid(st.st_gid).gr_name))
        check(os.path.exists(os.path.join(spool, "producer.spool")),
              "spool file in /var/spool/pdnsx")
        check(as_user("pdnsx-trial-res", CONNECT % sock).stdout.strip() == "connected",
              "a user of group pdnsx connects to the socket")
        out = as_user("pdnsx-trial-out", CONNECT % sock).stdout.strip()
        check(out == "Permission denied", "a user outside group pdnsx cannot (%s)" % out)

        nsd = Nsd(work)
        unbound = Unbound(work, nsd.port, sock, username="pdnsx-trial-res")
        uport = unbound.port
        uid = [ln.split()[1] for ln in open("/proc/%d/status" % unbound.proc.pid)
               if ln.startswith("Uid:")][0]
        check(pwd.getpwuid(int(uid)).pw_name == "pdnsx-trial-res",
              "Unbound runs as pdnsx-trial-res (uid %s)" % uid)
        def published():
            return pxtest.decode_messages(
                pxtest.read_topic_raw(broker.bootstrap, "pdnsx.obs." + ORG))

        def ask_and_look():
            # Unbound connects its dnstap in the background: ask until it
            # has and the window (1 s) was published.
            for name in ("www.example.com", "api.example.net"):
                sh("dig", "+short", "-p", str(uport), "@127.0.0.1", name, "A",
                   stdout=subprocess.DEVNULL)
            return len({r["rrname"] for r in published()}) >= 2
        pxtest.wait_for(ask_and_look, 60, "Unbound's answers to be published", interval=1)
        names = sorted({r["rrname"] for r in published()})
        check(names == ["api.example.net", "www.example.com"], "published %s" % names)
        rc = producer.reload_then_stop()
        procs.remove(producer)
        pcap_live(trace, run, spool, broker, uport, published)
        unbound.close()
        unbound = None
        log = producer.logtext()
        check(rc == 0, "producer exit status %d on SIGTERM" % rc)
        first = log.splitlines()[0] if log else ""
        check(bool(re.match(r"^<[3467]>pdnsx-producer: ", first)),
              "journal format under JOURNAL_STREAM: %r" % first)

        consumer = Sandboxed("consumer", trace, {"/var/lib/pdnsx": lib}, [
            os.path.join(BIN, "pdnsx-consumer"), "-c", example("pdnsx-consumer"),
            "-s", 'kafka.brokers="%s"' % broker.bootstrap,
            "-s", 'metrics.listen="127.0.0.1:%d"' % cport, "-s", "store.batch_ms=200"])
        procs.append(consumer)

        def stored():
            out = subprocess.run(["setpriv", "--reuid=pdnsx", "--regid=pdnsx", "--init-groups",
                                  os.path.join(BIN, "pdnsx-query"), "-s",
                                  'store.path="%s"' % lib, "rrset", "www.example.com"],
                                 capture_output=True, text=True)
            return "93.184.216.34" in out.stdout
        pxtest.wait_for(lambda: stored() or consumer.proc.poll() is not None, 60,
                        "the consumer to merge: " + consumer.logtext()[-600:], interval=0.5)
        check(stored(), "the consumer merged into /var/lib/pdnsx, pdnsx-query finds it")
        rc = consumer.reload_then_stop()
        procs.remove(consumer)
        check(rc == 0, "consumer exit status %d on SIGTERM" % rc)

        expand = syscall_groups()
        allowed = expand("@system-service") - expand("@privileged") - expand("@resources")
        for name in ("producer", "consumer", "pcap"):
            calls, fams, wx = strace_findings(os.path.join(trace, name + ".strace"))
            # execve is strace's own start of the program (it precedes the filter).
            outside = sorted(calls - allowed - {"execve"})
            check(not outside, "%s: %d system calls, outside the filter: %s"
                  % (name, len(calls), outside))
            check(fams <= families[name], "%s: socket families %s within %s"
                  % (name, sorted(fams), sorted(families[name])))
            check(not wx, "%s: no writable+executable mapping %s" % (name, wx[:2]))
    finally:
        for p in procs:
            p.proc.kill()
        if unbound:
            unbound.close()
        if nsd:
            nsd.close()
        if broker:
            broker.close()
        if os.environ.get("PDNSX_TRIAL_KEEP"):
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        for user in reversed(made):
            subprocess.run(["deluser", "--quiet", user], check=False, stderr=subprocess.DEVNULL)
            subprocess.run(["delgroup", "--quiet", user], check=False,
                           stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
