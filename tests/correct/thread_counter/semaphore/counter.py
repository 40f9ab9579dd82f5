# Correct: a semaphore of one used as a lock, and an Event that starts all workers at once.
import threading

num = 0
guard = threading.Semaphore(1)
go = threading.Event()


def worker(val):
    global num
    go.wait()
    with guard:
        num += val


def run_workers(n_threads=2000):
    global num
    num = 0
    go.clear()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    return num
