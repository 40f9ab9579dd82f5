# Mistake: also starts a daemon "monitor" process that is never stopped or joined, and
# reads the results before joining the workers (right), but leaves the monitor running.
import multiprocessing as mp
import random
import string
import time


def rand_string(length, output):
    output.put("".join(random.choices(string.ascii_letters + string.digits, k=length)))


def monitor():
    while True:
        time.sleep(1)


def fan_out(n_processes, length):
    watcher = mp.Process(target=monitor, daemon=True)
    watcher.start()
    output = mp.Queue()
    processes = [mp.Process(target=rand_string, args=(length, output))
                 for _ in range(n_processes)]
    for p in processes:
        p.start()
    results = [output.get() for _ in processes]
    for p in processes:
        p.join()
    return results
