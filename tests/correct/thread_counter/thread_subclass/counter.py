# Correct: a threading.Thread subclass whose run() calls worker; a lock around the update.
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    with lock:
        num += val


class Adder(threading.Thread):
    def __init__(self, val):
        super().__init__(name=f"adder-{val}")
        self.val = val

    def run(self):
        worker(self.val)


def run_workers(n_threads=2000):
    global num
    num = 0
    threads = [Adder(i) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return num
