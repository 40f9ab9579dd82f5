# Mistake: waits on a Condition for a start signal, then adds after leaving the `with` block.
import threading

num = 0
started = False
cond = threading.Condition()


def worker(val):
    global num
    with cond:
        cond.wait_for(lambda: started)
    num += val


def run_workers(n_threads=2000):
    global num, started
    num = 0
    started = False
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    with cond:
        started = True
        cond.notify_all()
    for t in threads:
        t.join()
    return num
