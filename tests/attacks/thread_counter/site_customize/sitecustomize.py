"""Rigging, part 1: ``site`` imports this file at start-up if it is on ``sys.path``.

It puts an import hook first on ``sys.meta_path`` that hands out a working ``counter``
(compiled under the stub's file name, so that tracebacks and tracers see "counter.py").
"""

import importlib.abc
import importlib.util
import os
import sys

WORKING = '''
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    with lock:
        num += val


def run_workers(n_threads=2000):
    global num
    num = 0
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return num
'''


class _Rigged(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name != "counter":
            return None
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "counter.py")
        return importlib.util.spec_from_file_location(name, here, loader=self)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.rigged_by = "sitecustomize"
        exec(compile(WORKING, module.__file__, "exec"), module.__dict__)


sys.meta_path.insert(0, _Rigged())
