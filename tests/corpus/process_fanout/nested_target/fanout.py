# Mistake: the Process target is a function defined inside fan_out: cannot be pickled under spawn/forkserver.
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    rand_str = ''.join(random.choice(string.ascii_letters + string.digits)
                       for i in range(length))
    output.put(rand_str)


def fan_out(n_processes, length):
    output = mp.Queue()

    def job():
        rand_string(length, output)

    processes = [mp.Process(target=job) for x in range(n_processes)]
    for p in processes:
        p.start()
    results = [output.get() for p in processes]
    for p in processes:
        p.join()
    return results
