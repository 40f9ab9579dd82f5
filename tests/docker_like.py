"""Run a command as Docker's defaults would: ``python tests/docker_like.py [--hide PATH]...
[--shared-hidden] [--keep PATH]... -- CMD...``.

For the kit's own tests of the sandbox where namespaces are refused (the Gradescope
autograder, many CI runners). Before executing ``CMD`` it

* hides each ``PATH`` given with ``--hide`` under an empty tmpfs, in a mount namespace of
  its own (a container's files do not include the machine's checkouts of the kit);
  with ``--shared-hidden`` also every folder in the machine's shared places (/tmp,
  /var/tmp, /home, /srv, /opt, /mnt, /media) that other users may enter, but those that
  hold a ``--keep PATH``: a CI runner may keep further checkouts of the kit there (its
  source before the clone, say), which a container would not have either;

* drops from the capability bounding set every capability that Docker's default set
  leaves out (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_RESOURCE, ...), so that even root
  cannot mount or make namespaces;
* installs a seccomp filter like Docker's default profile for processes without
  CAP_SYS_ADMIN: ``unshare`` and ``setns`` fail with EPERM, ``clone`` with any
  namespace flag fails with EPERM, and ``clone3`` with ENOSYS (so that the C library falls
  back to ``clone``, whose flags the filter can read).

Standard library only (the filter is written as classic BPF through ctypes).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
# Docker's default capabilities (moby's oci/caps/defaults.go); all others are dropped.
DOCKER_KEEPS = {0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31}  # chown, dac_override,
# fowner, fsetid, kill, setgid, setuid, setpcap, net_bind_service, net_raw, sys_chroot,
# mknod, audit_write, setfcap
LAST_CAP = 40
NAMESPACE_FLAGS = 0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | \
    0x40000000 | 0x02000000  # NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWCGROUP
# (audit arch, unshare, setns, clone, clone3)
ARCHES = {"x86_64": (0xC000003E, 272, 308, 56, 435),
          "aarch64": (0xC00000B7, 97, 268, 220, 435)}

LD_W_ABS = 0x20
JEQ_K = 0x15
JSET_K = 0x45
RET_K = 0x06
ALLOW = 0x7FFF0000
ERRNO = 0x00050000


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def program() -> bytes:
    arch, unshare, setns, clone, clone3 = ARCHES[platform.machine()]
    eperm, enosys = ERRNO | errno.EPERM, ERRNO | errno.ENOSYS
    allow, refuse, no_such = 9, 10, 11  # where the verdicts stand (jumps are relative)
    return b"".join([
        _insn(LD_W_ABS, 0, 0, 4),                        # 0: the architecture
        _insn(JEQ_K, 0, allow - 2, arch),                # 1: another's calls: allowed
        _insn(LD_W_ABS, 0, 0, 0),                        # 2: the call's number
        _insn(JEQ_K, refuse - 4, 0, unshare),            # 3
        _insn(JEQ_K, refuse - 5, 0, setns),              # 4
        _insn(JEQ_K, no_such - 6, 0, clone3),            # 5
        _insn(JEQ_K, 0, allow - 7, clone),               # 6
        _insn(LD_W_ABS, 0, 0, 16),                       # 7: clone's flags (arg 0, low half)
        _insn(JSET_K, refuse - 9, allow - 9, NAMESPACE_FLAGS),  # 8
        _insn(RET_K, 0, 0, ALLOW),                       # 9
        _insn(RET_K, 0, 0, eperm),                       # 10
        _insn(RET_K, 0, 0, enosys),                      # 11
    ])


SHARED = ("/tmp", "/var/tmp", "/home", "/srv", "/opt", "/mnt", "/media")


def shared_folders(keep: list[str]) -> list[str]:
    """The folders in :data:`SHARED` that other users may enter, but ``keep``'s own and
    their parents (each kept path must stay reachable)."""
    kept = {os.path.realpath(k) for k in keep}
    found = []
    for top in SHARED:
        try:
            names = os.listdir(top)
        except OSError:
            continue
        for name in names:
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not (os.path.isdir(path) and not os.path.islink(path) and st.st_mode & 0o001):
                continue
            if any(k == path or k.startswith(path + "/") for k in kept):
                continue
            found.append(path)
    return found


def hide(paths: list[str]) -> None:
    """A mount namespace of its own in which ``paths`` are empty (before the filter)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    if libc.mount(b"none", b"/", None, ctypes.c_ulong(16384 | (1 << 18)), None) != 0:
        raise OSError(ctypes.get_errno(), "mount --make-rprivate /")  # (MS_REC|MS_PRIVATE)
    for path in dict.fromkeys(paths):
        if libc.mount(b"tmpfs", path.encode(), b"tmpfs", ctypes.c_ulong(0),
                      b"size=1m,mode=755") != 0:
            raise OSError(ctypes.get_errno(), f"mount tmpfs on {path}")


def install() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(LAST_CAP + 1):
        if cap not in DOCKER_KEEPS:
            libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), ctypes.c_ulong(0),
                       ctypes.c_ulong(0), ctypes.c_ulong(0))  # (EINVAL past the last)
    code = program()

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    prog = Prog(len(code) // 8, code)
    zero = ctypes.c_ulong(0)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), zero, zero, zero) != 0:
        raise OSError(ctypes.get_errno(), "no_new_privs")
    if libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(prog),
                  zero, zero) != 0:
        raise OSError(ctypes.get_errno(), "seccomp")


if __name__ == "__main__":
    args = sys.argv[1:]
    hidden, keep, shared = [], [], False
    while args[:1] in (["--hide"], ["--keep"], ["--shared-hidden"]):
        if args[0] == "--shared-hidden":
            shared, args = True, args[1:]
            continue
        (hidden if args[0] == "--hide" else keep).append(args[1])
        args = args[2:]
    if shared:
        hidden += shared_folders(keep)
    if args[:1] == ["--"]:
        args = args[1:]
    if hidden:
        hide(hidden)
    install()
    os.execvp(args[0], args)
