# Mistake: a semaphore of two lets two threads into the read-add-write at once.
import threading

num = 0
guard = threading.Semaphore(2)
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
