# Mistake: uses a Pool instead of Process and hands it a plain mp.Queue (RuntimeError: Queue objects only through inheritance).
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    rand_str = ''.join(random.choice(string.ascii_letters + string.digits)
                       for i in range(length))
    output.put(rand_str)


def fan_out(n_processes, length):
    output = mp.Queue()
    with mp.Pool(processes=n_processes) as pool:
        pool.starmap(rand_string, [(length, output)] * n_processes)
    return [output.get() for i in range(n_processes)]
