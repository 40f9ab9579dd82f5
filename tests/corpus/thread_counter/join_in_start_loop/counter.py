# Mistake: the lecture slide's loop: t.start() then t.join() for each thread, so the threads run one by one.
import threading

num = 0


def worker(val):
    global num
    num += val
    return


def run_workers(n_threads=2000):
    global num
    num = 0
    threadl = []
    for i in range(n_threads):
        t = threading.Thread(target=worker, args=(i,))
        threadl.append(t)
        t.start()
        t.join()
    return num
