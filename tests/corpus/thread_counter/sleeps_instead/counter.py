# Mistake: sleeps instead of joining, hoping the threads are done by then: the grader
# holds the workers until the main thread really waits for them (join).
import threading
import time

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
    time.sleep(0.5)
    return num
