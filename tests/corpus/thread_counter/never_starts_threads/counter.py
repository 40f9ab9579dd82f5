# Mistake: no threads at all: run_workers calls worker(i) directly in a loop.
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    with lock:
        num += val
    return


def run_workers(n_threads=2000):
    global num
    num = 0
    for i in range(n_threads):
        worker(i)
    return num
