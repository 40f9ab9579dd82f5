"""Carol: start and join in the same loop, like the slide."""
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
    for i in range(n_threads):
        t = threading.Thread(target=worker, args=(i,))
        t.start()
        t.join()
    return num
