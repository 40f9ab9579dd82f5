"""The messages the grader's processes exchange, in one place: one message is one JSON
object on one line (UTF-8, ``\\n`` at its end). Standard library only (the sandbox's
session server uses it too).

Each side waits for lines with :func:`readable` (so do the sandbox's init and the
process-tree helpers). Three conversations, each a request and its answers:

* **A sandbox session** (:mod:`grader.inside.session` inside the sandbox,
  :class:`grader.sandbox.Session` outside). On the server's stdin: a check
  ``{"id", "spec", "abandoned"}`` (``spec``: see :mod:`grader.inside.runner`), and
  ``{"abandon": id}`` when the grader no longer needs the rest of a check. On the
  response pipe, one answer per check: what it left (:func:`grader.inside.output.collect`)
  with ``{"id", "killed", "abandoned", "exit"}``. The answers come from the sandbox: the
  grader reads them with ``decode(line, untrusted=True)``.
* **The class's pool of warm sandboxes** (:mod:`grader.sandbox.pool`), one connection per
  check: the suite's client sends ``{"submission", "module", "check", "abandoned"}``
  (``check``: the keyword arguments of :func:`grader.sandbox.run`), then possibly the
  bare lines :data:`ABANDON` and :data:`CANCEL`; the pool answers ``{"run": Run's
  fields}`` or ``{"error": text}``.
* **The warm pytest server** (:mod:`grader.grading.warm`): ``{"id", "args", "cwd",
  "log"}`` runs pytest in a fork; it answers ``{"id", "pid"}`` once forked and ``{"id",
  "exit"}`` when the run is over.
"""

from __future__ import annotations

ABANDON = b"abandon\n"  # (the pool's client: the rest of the check is not needed)
CANCEL = b"cancel\n"  # (the pool's client: none of it is)


def readable(sources: list, timeout: float) -> list:
    """Those of ``sources`` (descriptors, or objects with ``fileno()``) that can be read
    within ``timeout`` seconds (or have hung up): ``poll``, which, unlike ``select``,
    takes descriptors past 1024 (student code may make a process hold a thousand)."""
    import select

    poller = select.poll()
    by_fd = {}
    for source in sources:
        fd = source if isinstance(source, int) else source.fileno()
        by_fd[fd] = source
        poller.register(fd, select.POLLIN)
    return [by_fd[fd] for fd, _ in poller.poll(max(0, int(timeout * 1000)))]


def encode(message: dict) -> bytes:
    """One message as its line (what JSON cannot hold is written as its ``repr``)."""
    import json

    return (json.dumps(message, default=repr) + "\n").encode()


def decode(line: bytes | str, untrusted: bool = False) -> dict:
    """The message on ``line``; ``ValueError`` if it is not a JSON object. ``untrusted``:
    the line comes from a sandbox, and is parsed within :mod:`grader.inside.bounded`'s
    bounds (:class:`grader.inside.bounded.TooLarge` over them)."""
    if untrusted:
        from grader.inside.bounded import loads

        message = loads(line)
    else:
        import json

        message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError("a message is a JSON object")
    return message
