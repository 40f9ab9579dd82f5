# Correct: the queue comes from a helper and is passed to every child; results are read
# before any join.
import multiprocessing as mp
import random
import string

LETTERS = string.ascii_letters + string.digits


def rand_string(length, output):
    output.put("".join(random.choice(LETTERS) for _ in range(length)))


def _start_all(n, length, queue):
    processes = [mp.Process(target=rand_string, args=(length, queue)) for _ in range(n)]
    for p in processes:
        p.start()
    return processes


def fan_out(n_processes, length):
    queue = mp.Queue()
    processes = _start_all(n_processes, length, queue)
    results = [queue.get() for _ in processes]
    for p in processes:
        p.join()
    return results
