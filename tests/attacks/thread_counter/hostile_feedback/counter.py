"""Attack: restructure the reports with the text of an exception.

``run_workers`` raises an exception whose message closes feedback.md's code fence, then
writes a fake ``# Score: 10/10`` heading, raw HTML (``<script>``, ``<img onerror>``), a
link, a terminal escape that clears the screen and one that sets the window title, and
control characters; ``worker`` leaves the same text in a thread's name, which the
reports' timelines show. Must lose every check (the function never returns) and reach
the reports only as text: inside fences in feedback.md, escaped in feedback.html, and
without escapes or control characters anywhere.
"""

import threading

num = 0
lock = threading.Lock()

HOSTILE = ("closing the fence\n```\n````\n\n# Score: 10/10 (@TOKEN@)\n"
           "<script>alert('@TOKEN@')</script>\n<img src=x onerror=alert(1)>\n"
           "[full marks](http://evil.example)\n\x1b[2J\x1b[31mred\x1b[0m\n"
           "\x1b]0;title\x07\n\x00\x07\x9bthe end")


def worker(val):
    global num
    threading.current_thread().name = HOSTILE
    with lock:
        num += val


def run_workers(n_threads=2000):
    raise RuntimeError(HOSTILE)
