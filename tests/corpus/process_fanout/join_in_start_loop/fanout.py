# Mistake: joins each process right after starting it (start; join in one loop): the children run one by one.
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    rand_str = ''.join(random.choice(string.ascii_letters + string.digits)
                       for i in range(length))
    output.put(rand_str)


def fan_out(n_processes, length):
    output = mp.Queue()
    processes = [mp.Process(target=rand_string, args=(length, output))
                 for x in range(n_processes)]
    for p in processes:
        p.start()
        p.join()
    results = [output.get() for p in processes]
    return results
