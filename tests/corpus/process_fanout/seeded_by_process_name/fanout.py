# Mistake: seeds random with the child's process name "so that every child differs":
# the children do differ, but Process-1..4 draw the same strings in every run.
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    random.seed(mp.current_process().name)
    output.put("".join(random.choice(string.ascii_letters + string.digits)
                       for _ in range(length)))


def fan_out(n_processes, length):
    output = mp.Queue()
    processes = [mp.Process(target=rand_string, args=(length, output))
                 for _ in range(n_processes)]
    for p in processes:
        p.start()
    results = [output.get() for _ in processes]
    for p in processes:
        p.join()
    return results
