"""Dan: a lambda as the target (fine under fork, breaks under spawn)."""
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    output.put("".join(random.choices(string.ascii_letters + string.digits, k=length)))


def fan_out(n_processes, length):
    output = mp.Queue()
    procs = [mp.Process(target=lambda: rand_string(length, output))
             for _ in range(n_processes)]
    for p in procs:
        p.start()
    results = [output.get() for _ in procs]
    for p in procs:
        p.join()
    return results
