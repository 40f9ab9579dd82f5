# Mistake: a home-made Thread class whose start() runs the target right away in the calling thread.
import threading

num = 0
lock = threading.Lock()


class Thread:
    def __init__(self, target, args=()):
        self.target = target
        self.args = args

    def start(self):
        self.target(*self.args)

    def join(self):
        pass


def worker(val):
    global num
    with lock:
        num += val
    return


def run_workers(n_threads=2000):
    global num
    num = 0
    threadl = [Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threadl:
        t.start()
    for t in threadl:
        t.join()
    return num
