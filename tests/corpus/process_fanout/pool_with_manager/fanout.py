# Mistake: uses a Pool (with a Manager queue) instead of one multiprocessing.Process per string.
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    rand_str = ''.join(random.choice(string.ascii_letters + string.digits)
                       for i in range(length))
    output.put(rand_str)


def fan_out(n_processes, length):
    with mp.Manager() as manager:
        output = manager.Queue()
        with mp.Pool(processes=n_processes) as pool:
            pool.starmap(rand_string, [(length, output)] * n_processes)
        results = [output.get() for i in range(n_processes)]
    return results
