# Correct: the lock lives on a class.
import threading

num = 0


class Guard:
    lock = threading.Lock()


def worker(val):
    global num
    with Guard.lock:
        num = num + val


def run_workers(n_threads=2000):
    global num
    num = 0
    threads = []
    for i in range(n_threads):
        threads.append(threading.Thread(target=worker, args=(i,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return num
