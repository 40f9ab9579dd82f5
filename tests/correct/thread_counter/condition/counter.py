# Correct: a Condition guards num; workers wait for their turn in order of val.
import threading

num = 0
turn = 0
cond = threading.Condition()


def worker(val):
    global num, turn
    with cond:
        cond.wait_for(lambda: turn == val)
        num += val
        turn += 1
        cond.notify_all()


def run_workers(n_threads=2000):
    global num, turn
    num = 0
    turn = 0
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return num
