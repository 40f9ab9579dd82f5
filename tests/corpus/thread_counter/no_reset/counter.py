# Mistake: run_workers never resets num to 0, so a second call keeps counting from the first total.
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    with lock:
        num += val
    return


def run_workers(n_threads=2000):
    threadl = []
    for i in range(n_threads):
        t = threading.Thread(target=worker, args=(i,))
        threadl.append(t)
    for t in threadl:
        t.start()
    for t in threadl:
        t.join()
    return num
