# Mistake: starts every thread but never joins one: run_workers returns num before the
# workers have added to it (the grader holds them until the main thread waits).
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
        threading.Thread(target=worker, args=(i,)).start()
    return num
